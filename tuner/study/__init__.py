"""What a study is: its configuration, its states, its early-stopping rules, and how it is submitted."""

"""The API's routers, one per resource; ``create_app`` includes them."""

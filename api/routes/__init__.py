"""The API's routers, one per resource; ``create_app`` includes them (``pages`` brings ``figures`` and ``static``)."""

"""The curators' review web app (`sonoharvest serve`): the queue, the evidence, the decisions."""

from sonoharvest.web.app import WebConfigError, create_app, serve

__all__ = ["WebConfigError", "create_app", "serve"]

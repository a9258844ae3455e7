"""The social app's pages: server-rendered with Jinja2, enhanced by a little JavaScript, beside the API."""

from duetto.app.web.setup import install_web

__all__ = ["install_web"]

"""Jinja2 templates of the web pages (a package so that wheels ship them as package data)."""

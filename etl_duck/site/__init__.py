"""The static stats site: the lake published as plain HTML files (``etl-duck site``).

``pages`` says which pages exist and what each depends on, ``render`` turns templates
(``templates/``, ``static/``) into bytes, ``svg`` draws the charts inline, ``publish``
swaps versions atomically, ``build`` ties them together and ``urls`` is where pages live
(also used by the bot's links). Data comes only through :class:`~etl_duck.query.stats.Stats`.
"""

from __future__ import annotations

from etl_duck.site.build import SiteReport, build_site
from etl_duck.site.pages import SiteOptions
from etl_duck.site.publish import SiteError

__all__ = ["SiteError", "SiteOptions", "SiteReport", "build_site"]

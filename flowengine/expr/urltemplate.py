"""`url-template`: the `template` language for URLs: each `${path}` value is percent-encoded.

    https://crm.example.com/lookup?caller=${caller}&lang=${lang}
    with caller = "+44 20 7946 0000"  ->  ...?caller=%2B44%2020%207946%200000&lang=en

Only the placeholder values are encoded (every byte but RFC 3986's unreserved characters), so an
author's literal `?`, `&` and `/` keep their meaning and a value can never add a query parameter.
An unset value reads as "" (as in `template`).
"""

from __future__ import annotations

from urllib.parse import quote

from . import Scope, register_language
from .basic import TemplateLanguage, lookup_path, to_text


class UrlTemplateLanguage(TemplateLanguage):
    name = "url-template"

    def evaluate(self, compiled: tuple, scope: Scope) -> str:
        return "".join(p if isinstance(p, str) else quote(to_text(lookup_path(p, scope)), safe="")
                       for p in compiled)


register_language(UrlTemplateLanguage())

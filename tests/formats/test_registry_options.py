"""The format registry: options after the format name, and sniffing among formats that share a suffix."""

import pytest

from flowengine import formats
from flowengine.errors import FlowError


def test_get_with_options_returns_the_configured_format():
    fmt = formats.get("inboundxml, pause_unit=ms")
    assert fmt.name == "inboundxml" and fmt.options.pause_unit == "ms"
    assert formats.get("inboundxml").options.pause_unit == "s"  # the registered instance is untouched


def test_an_option_must_be_name_equals_value():
    with pytest.raises(FlowError) as info:
        formats.get("inboundxml, pause_unit")
    assert info.value.diagnostics[0].code == "E_FORMAT"


def test_a_format_without_options_refuses_them():
    with pytest.raises(FlowError) as info:
        formats.get("ir, strict=true")
    assert "takes no options" in info.value.diagnostics[0].message


def test_formats_sharing_a_suffix_are_told_apart_by_sniffing():
    class Other(formats.Format):
        name = "test-other-xml"
        suffixes = (".xml",)

        def sniff(self, text, filename):
            return text.lstrip().startswith("<configuration")

    try:
        assert formats.detect("a.xml", "<configuration/>").name == "test-other-xml"
        assert formats.detect("a.xml", "<Response/>").name == "inboundxml"
    finally:
        formats._REGISTRY.pop("test-other-xml")

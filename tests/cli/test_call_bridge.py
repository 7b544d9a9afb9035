"""`flowengine call`: a bridge that listens for a hang-up key asks the terminal caller."""

from flowengine.channels.fake import InputRequest
from flowengine.cli import main
from flowengine.cli.call import describe


def test_describe_a_bridge_listening_for_a_key():
    assert describe(InputRequest("bridge", "A", (), None, 0.0, "*")) == \
        "connected: press * to hang up on the other party, Enter to talk on"


def test_scripted_caller_ends_the_bridge_with_star(tmp_path, capsys):
    flow = tmp_path / "star.xml"
    flow.write_text('<Response><Dial hangupOnStar="true">+15551112222</Dial><Say>Welcome back.</Say></Response>')
    scenario = tmp_path / "s.yaml"
    scenario.write_text('dial: {"*": {status: answer, talk: 30}}\n')
    assert main(["call", str(flow), "-s", str(scenario), "--keys", "*"]) == 0
    out = capsys.readouterr().out
    assert "bridge with B 0s, ended by A" in out and 'say "Welcome back."' in out

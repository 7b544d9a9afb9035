"""FreeSWITCH over the Event Socket: a sans-IO codec (esl), the outbound-socket server (outbound), the
inbound client for originate (inbound), the Channel that runs flows with dptools apps (channel), and the
dialled legs that run their own states through the bridge's group confirmation (legs)."""

__all__ = ["esl", "outbound", "inbound", "channel", "legs"]

"""FreeSWITCH over the Event Socket: a sans-IO codec (esl), the outbound-socket server (outbound), the
inbound client for originate (inbound), and the Channel that runs flows with dptools apps (channel)."""

__all__ = ["esl", "outbound", "inbound", "channel"]

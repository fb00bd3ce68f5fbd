-- Why synfin's linux profile differs from the Linux kernel where it still
-- does (tools/differential.lua writes spec/conformance/differential.md):
-- a Lua pattern on a difference's key ("scenario seg#i field", "scenario
-- call#i field"), and the reason: why synfin differs, or "to fix" with the
-- issue. ctest's conformance/differential fails on a difference no pattern
-- here matches.
return {
  { "^shutdown_half_close seg#[789]", "the ACK of the first data received in FIN_WAIT_2: synfin's quick-ACK "
    .. "start sends it at once (core/quickack.c, tcp_event_data_recv's rule); the kernel does so in some runs "
    .. "and in others lets the peer's FIN, which follows within a millisecond, take it along (both seen in "
    .. "runs of this scenario over TUN; why the kernel delays it then is not established)" },
  { "^recv_peek call", "MSG_PEEK: synfin's RECEIVE has no peek and the facade does not fake one "
    .. "(spec/facade_spec.lua DIFFERS): EOPNOTSUPP, and the scenario reads what is left by read()" },
  { "^user_timeout seg#%d+ missing$", "the retransmission at the user timeout's end: Linux checks "
    .. "TCP_USER_TIMEOUT only when a retransmission timer fires (tcp_retransmit_timer, tcp_write_timeout), "
    .. "the timer clamped to the time left (tcp_clamp_rto_to_user_timeout) and counted in jiffies, and here "
    .. "it retransmits once more just after 0.8 s; synfin ends the connection at 0.8 s exactly "
    .. "(RFC 9293 §3.10.8) and sends nothing then. The retransmissions before it agree (the linux "
    .. "profile's RTO: the RTT + 200 ms, doubled)" },
  { "^user_timeout call#%d+ blocked$", "the write's ETIMEDOUT: Linux reports it at the retransmission timer "
    .. "after that last retransmission (tcp_retransmit_timer, tcp_write_timeout), about 1.25 s; synfin "
    .. "at the user timeout's end, 0.8 s (RFC 9293 §3.10.8)" },
  { "^recv_peek seg#%d+ missing$", "the ACK of the data the scenario reads: synfin's quick-ACK start sends "
    .. "it at once, as the kernel does in most runs; in some the kernel's comes after the scenario's end "
    .. "(seen over TUN, not established why)" },
}

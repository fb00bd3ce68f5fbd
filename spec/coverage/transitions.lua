--- The transitions of RFC 9293, for the transition coverage report
-- (spec/coverage/report.lua): every edge of the state diagram (§3.3.2,
-- Figure 5, with its notes 1 and 2), every transition of the event
-- processing rules (§3.10) that the core implements, and the core's other
-- ways out of a state: R2 (§3.8.3), zero-window probing (§3.8.6.1), a SYN
-- reopening TIME_WAIT (§3.6.1) and the FIN_WAIT_2 timeout policy.
--
-- Each entry is { from, to, event, ref = ..., missing = ... }: event is what
-- the core reports for it, its cause ("user", "segment", "timer") and its
-- `why` text, as lua/synfin/coverage.lua records them ("FIN_WAIT_1 TIME_WAIT
-- segment FIN+ACK of our FIN"); ref is where the RFC has it; missing, when
-- present, says why the core never takes it (not implemented, or not
-- reachable): the report lists such a transition as never reached without
-- failing. Every other transition must be taken by some spec.
--
-- The USER TIMEOUT of §3.10.8 and the keep-alives of §3.8.4 are policies,
-- off by default, listed with the states a spec takes them from. Left out, as
-- the core does not implement it: Figure 5's note 3, a RST sent from any state with a transition to TIME_WAIT (the
-- core's ABORT goes to CLOSED, §3.10.5).
return {
  -- Figure 5: the state diagram
  { "CLOSED", "LISTEN", "user listen", ref = "Figure 5: passive OPEN" },
  { "CLOSED", "SYN_SENT", "user connect", ref = "Figure 5: active OPEN, snd SYN" },
  { "LISTEN", "CLOSED", "user close", ref = "Figure 5: CLOSE (and §3.10.5 ABORT in LISTEN)" },
  { "LISTEN", "SYN_RCVD", "segment SYN", ref = "Figure 5: rcv SYN, snd SYN,ACK" },
  { "LISTEN", "SYN_RCVD", "segment ACK of a SYN cookie (RFC 4987)",
    ref = "RFC 4987 §3.6: the SYN_RCVD a SYN cookie did not keep, made from the ACK" },
  { "LISTEN", "SYN_SENT", "user send", ref = "Figure 5: SEND, snd SYN",
    missing = "not implemented: a listener does not send (§3.10.2 LISTEN; the core returns EINVAL)" },
  { "SYN_SENT", "CLOSED", "user close", ref = "Figure 5: CLOSE" },
  { "SYN_SENT", "SYN_RCVD", "segment SYN (simultaneous open)", ref = "Figure 5: rcv SYN, snd SYN,ACK" },
  { "SYN_SENT", "ESTABLISHED", "segment SYN-ACK", ref = "Figure 5: rcv SYN,ACK, snd ACK" },
  { "SYN_RCVD", "LISTEN", "segment RST", ref = "Figure 5 note 1: rcv RST (passive OPEN)" },
  { "SYN_RCVD", "ESTABLISHED", "segment ACK", ref = "Figure 5: rcv ACK of SYN" },
  { "SYN_RCVD", "FIN_WAIT_1", "user close", ref = "Figure 5: CLOSE, snd FIN" },
  { "ESTABLISHED", "FIN_WAIT_1", "user close", ref = "Figure 5: CLOSE, snd FIN" },
  { "ESTABLISHED", "CLOSE_WAIT", "segment FIN", ref = "Figure 5: rcv FIN, snd ACK" },
  { "FIN_WAIT_1", "FIN_WAIT_2", "segment ACK of our FIN", ref = "Figure 5: rcv ACK of FIN" },
  { "FIN_WAIT_1", "CLOSING", "segment FIN (simultaneous close)", ref = "Figure 5: rcv FIN, snd ACK" },
  { "FIN_WAIT_1", "TIME_WAIT", "segment FIN+ACK of our FIN", ref = "Figure 5 note 2: rcv FIN and ACK of FIN" },
  { "FIN_WAIT_2", "TIME_WAIT", "segment FIN", ref = "Figure 5: rcv FIN, snd ACK" },
  { "CLOSE_WAIT", "LAST_ACK", "user close", ref = "Figure 5: CLOSE, snd FIN" },
  { "CLOSING", "TIME_WAIT", "segment ACK of our FIN", ref = "Figure 5: rcv ACK of FIN" },
  { "LAST_ACK", "CLOSED", "segment ACK of our FIN", ref = "Figure 5: rcv ACK of FIN" },
  { "TIME_WAIT", "CLOSED", "timer 2MSL", ref = "Figure 5: Timeout=2MSL" },

  -- §3.10.4 CLOSE
  { "ESTABLISHED", "FIN_WAIT_1", "user close (queued)", ref = "§3.10.4 SYN-RECEIVED: close queued until ESTABLISHED" },
  { "SYN_RCVD", "CLOSED", "user listener closed", ref = "§3.10.4 LISTEN: a child nobody accepted is reset" },
  { "ESTABLISHED", "CLOSED", "user listener closed", ref = "§3.10.4 LISTEN: a child nobody accepted is reset" },
  { "CLOSE_WAIT", "CLOSED", "user listener closed", ref = "§3.10.4 LISTEN: a child nobody accepted is reset" },

  -- §3.10.5 ABORT (in LISTEN it is a close: "user close" above)
  { "SYN_SENT", "CLOSED", "user abort", ref = "§3.10.5 SYN-SENT" },
  { "SYN_RCVD", "CLOSED", "user abort", ref = "§3.10.5 SYN-RECEIVED, snd RST" },
  { "ESTABLISHED", "CLOSED", "user abort", ref = "§3.10.5 ESTABLISHED, snd RST" },
  { "FIN_WAIT_1", "CLOSED", "user abort", ref = "§3.10.5 FIN-WAIT-1, snd RST" },
  { "FIN_WAIT_2", "CLOSED", "user abort", ref = "§3.10.5 FIN-WAIT-2, snd RST" },
  { "CLOSE_WAIT", "CLOSED", "user abort", ref = "§3.10.5 CLOSE-WAIT, snd RST" },
  { "CLOSING", "CLOSED", "user abort", ref = "§3.10.5 CLOSING" },
  { "LAST_ACK", "CLOSED", "user abort", ref = "§3.10.5 LAST-ACK" },
  { "TIME_WAIT", "CLOSED", "user abort", ref = "§3.10.5 TIME-WAIT" },

  -- §3.10.7.3 SYN-SENT, second: an acceptable RST
  { "SYN_SENT", "CLOSED", "segment RST", ref = "§3.10.7.3 second: RST with an acceptable ACK" },

  -- §3.10.7.4 second: a RST (at RCV.NXT, RFC 5961 §3)
  { "SYN_RCVD", "CLOSED", "segment RST", ref = "§3.10.7.4 second: SYN-RECEIVED from an active OPEN" },
  { "ESTABLISHED", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },
  { "FIN_WAIT_1", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },
  { "FIN_WAIT_2", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },
  { "CLOSE_WAIT", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },
  { "CLOSING", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },
  { "LAST_ACK", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },
  { "TIME_WAIT", "CLOSED", "segment RST", ref = "§3.10.7.4 second" },

  -- §3.10.7.4 fourth: a SYN in SYN_RCVD after a passive OPEN
  { "SYN_RCVD", "LISTEN", "segment SYN", ref = "§3.10.7.4 fourth: SYN in SYN-RECEIVED (passive OPEN)" },

  -- §3.10.7.4 eighth: a FIN in SYN_RCVD
  { "SYN_RCVD", "CLOSE_WAIT", "segment FIN", ref = "§3.10.7.4 eighth: SYN-RECEIVED",
    missing = "not reachable: a FIN gets there only past the fifth step, whose ACK has already made the connection ESTABLISHED" },

  -- §3.8.3 (R2) with §3.10.8 RETRANSMISSION TIMEOUT: retransmissions end
  { "SYN_SENT", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 for a SYN (MUST-23)" },
  { "SYN_RCVD", "CLOSED", "timer SYN-ACK retries exhausted", ref = "§3.8.3 R2 for a SYN-ACK (passive OPEN)" },
  { "SYN_RCVD", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 for a SYN-ACK (simultaneous open)" },
  { "ESTABLISHED", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 (MUST-20)" },
  { "FIN_WAIT_1", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 (MUST-20)" },
  { "CLOSE_WAIT", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 (MUST-20)" },
  { "CLOSING", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 (MUST-20)" },
  { "LAST_ACK", "CLOSED", "timer retries exhausted", ref = "§3.8.3 R2 (MUST-20)" },

  -- §3.8.6.1 zero-window probing (MUST-36): probes nobody answers end like
  -- retransmissions (§3.8.3 R2), in every state that still has data to send
  { "ESTABLISHED", "CLOSED", "timer zero-window probes unanswered", ref = "§3.8.6.1 MUST-36, §3.8.3 R2" },
  { "FIN_WAIT_1", "CLOSED", "timer zero-window probes unanswered", ref = "§3.8.6.1 MUST-36, §3.8.3 R2" },
  { "CLOSE_WAIT", "CLOSED", "timer zero-window probes unanswered", ref = "§3.8.6.1 MUST-36, §3.8.3 R2" },
  { "CLOSING", "CLOSED", "timer zero-window probes unanswered", ref = "§3.8.6.1 MUST-36, §3.8.3 R2" },
  { "LAST_ACK", "CLOSED", "timer zero-window probes unanswered", ref = "§3.8.6.1 MUST-36, §3.8.3 R2" },

  -- §3.6.1 MAY-2: a SYN above RCV.NXT ends TIME_WAIT and goes to the listener
  -- (the syn_in_time_wait policy's default, RFC 6191 / Linux)
  { "TIME_WAIT", "CLOSED", "segment new connection established", ref = "§3.6.1 MAY-2: a SYN reopens TIME-WAIT; it ends when the new connection is established" },

  -- not in RFC 9293: the fin_wait_2_timeout policy (Linux's tcp_fin_timeout)
  { "FIN_WAIT_2", "CLOSED", "timer FIN_WAIT_2 timeout", ref = "policy fin_wait_2_timeout (not in RFC 9293)" },
  { "FIN_WAIT_1", "CLOSED", "segment data after close",
    ref = "policy rcv_after_close = reset: RFC 1122 4.2.2.13, the sockets API's close()" },
  { "FIN_WAIT_2", "CLOSED", "segment data after close",
    ref = "policy rcv_after_close = reset: RFC 1122 4.2.2.13, the sockets API's close()" },
  { "SYN_SENT", "CLOSED", "segment ICMP destination unreachable (hard error)", ref = "§3.9.2.2 SHLD-26: an ICMP hard error aborts" },
  { "ESTABLISHED", "CLOSED", "segment ICMP destination unreachable (hard error)", ref = "§3.9.2.2 SHLD-26: an ICMP hard error aborts" },
  { "SYN_SENT", "CLOSED", "segment ICMPv6 destination unreachable (hard error)", ref = "§3.9.2.2 SHLD-26, RFC 4443 §3.1: port unreachable" },
  { "ESTABLISHED", "CLOSED", "segment ICMPv6 parameter problem: next header (hard error)", ref = "§3.9.2.2 SHLD-26, RFC 4443 §3.4: IPv4's protocol unreachable" },
  { "SYN_SENT", "CLOSED", "timer user timeout", ref = "§3.10.8 USER TIMEOUT (policy user_timeout): any state" },
  { "ESTABLISHED", "CLOSED", "timer user timeout", ref = "§3.10.8 USER TIMEOUT (policy user_timeout)" },
  { "FIN_WAIT_1", "CLOSED", "timer user timeout", ref = "§3.10.8 USER TIMEOUT (policy user_timeout)" },
  { "CLOSE_WAIT", "CLOSED", "timer user timeout", ref = "§3.10.8 USER TIMEOUT (policy user_timeout)" },
  { "CLOSING", "CLOSED", "timer user timeout", ref = "§3.10.8 USER TIMEOUT (policy user_timeout)" },
  { "LAST_ACK", "CLOSED", "timer user timeout", ref = "§3.10.8 USER TIMEOUT (policy user_timeout)" },
  { "ESTABLISHED", "CLOSED", "timer keep-alives unanswered", ref = "§3.8.4 keep-alives (MUST-29)" },
  { "CLOSE_WAIT", "CLOSED", "timer keep-alives unanswered", ref = "§3.8.4 keep-alives (MUST-29)" },
  -- not in RFC 9293: the "silent" close policy forgets the connection, sending nothing
  { "ESTABLISHED", "CLOSED", "user forget", ref = "close policy \"silent\" (sf_forget; not RFC 9293's)" },
}

/* pcap.h - a pcapng file writer, for tcpdump, tshark and
 * Wireshark: one section, one interface of raw IPv4 packets
 * (LINKTYPE_RAW) with microsecond timestamps, and one Enhanced Packet
 * Block per packet, whose comment (opt_comment) says what synfin knows of
 * it. Plain stdio, no libpcap. Everything is written little-endian, which
 * the byte-order magic announces, so a file is the same on every host.
 *
 * The sim records through it (sf_sim_pcap_open); any driver or program can
 * use it alone. */
#ifndef SF_PCAP_H
#define SF_PCAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open pcapng file (opaque). */
typedef struct sf_pcap sf_pcap;

/* Creates (or truncates) the file at path and writes its Section Header and
 * Interface Description blocks. NULL on failure, with the reason in err
 * ("cannot open PATH: No such file or directory"). */
sf_pcap *sf_pcap_open(const char *path, char *err, size_t errlen);
/* Appends one packet (an IPv4 datagram, len bytes) at time_us microseconds,
 * with a comment (NULL or "": none; at most 65535 bytes are kept). Returns
 * 0, or -1 after a write error (the file stops growing; sf_pcap_close says
 * why). */
int sf_pcap_write(sf_pcap *pc, uint64_t time_us, const uint8_t *pkt, size_t len,
                  const char *comment);
/* Packets written so far. */
uint64_t sf_pcap_count(const sf_pcap *pc);
/* Flushes and closes the file, and frees pc (NULL: nothing). Returns 0, or
 * -1 when a write failed, with the reason in err (err may be NULL). */
int sf_pcap_close(sf_pcap *pc, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif

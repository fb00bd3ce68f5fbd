/* wire.c - the only code that touches packet bytes: IPv4 and TCP headers,
 * options and checksums (RFC 791, RFC 9293 §3.1-3.2). One hand-written parser
 * per header; every length is checked before it is used (a data offset
 * past the end and option lengths 0 or 1 have crashed other stacks:
 * contiki-ng#1173, smoltcp#261, smoltcp#694). */
#include "bytes.h"
#include "synfin.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define IP_HDR             20
#define IP6_HDR            40
#define TCP_HDR            20
#define IPPROTO_TCP_NUM    6
#define IPPROTO_ICMP_NUM   1
#define IPPROTO_ICMPV6_NUM 58
#define ICMP_HDR           8
/* RFC 8200 §4.1 extension headers, by their next header values */
#define NH_HOP_BY_HOP 0
#define NH_ROUTING    43
#define NH_FRAGMENT   44
#define NH_NONE       59
#define NH_DEST_OPTS  60

/* One's-complement sum of 16-bit big-endian words (RFC 1071), added to
 * sum, not yet folded. p starts a word (the checksums here always start at
 * an even offset of the packet). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* RFC 1071 §2 (B), byte order independence: the words are added as the
     * machine loads them, 32 bits at a time into 64-bit accumulators (no
     * carry is lost below 2^32 words), folded to 16 bits and swapped once.
     * Twice as many bytes an addition as the loop below, and no byte
     * shuffling: the checksum was a third of the bulk path. */
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    while (len >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        a0 += (uint32_t)w0;
        a1 += w0 >> 32;
        a2 += (uint32_t)w1;
        a3 += w1 >> 32;
        p += 16;
        len -= 16;
    }
    a0 += a1 + a2 + a3;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        a0 += (uint32_t)w;
        a0 += w >> 32;
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        a0 += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        a0 += w;
        p += 2;
        len -= 2;
    }
    if (len) a0 += p[0]; /* the last byte is a word's high byte: low in memory order */
    while (a0 >> 16)
        a0 = (a0 & 0xffff) + (a0 >> 16);
    return sum + (uint32_t)(((a0 & 0xff) << 8) | (a0 >> 8));
#else
    while (len > 1) {
        sum += sf_get16(p);
        p += 2;
        len -= 2;
    }
    if (len) sum += (uint32_t)p[0] << 8;
    return sum;
#endif
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* RFC 9293 §3.1: the checksum covers a pseudo-header of source and
 * destination address, protocol and TCP length; over IPv6, RFC 8200 §8.1's
 * of both 16-byte addresses, the 32-bit upper-layer length and the next
 * header (ICMPv6's too, RFC 4443 §2.3). */
/* The addresses are read where the IP header at `ip` has them (wire order,
 * one after the other): a packet being built or parsed has them there
 * already, so neither family copies them again. */
static inline uint32_t pseudo_sum(const uint8_t *ip, int v4, size_t len, uint8_t proto)
{
    if (v4) {
        uint32_t s = sf_get32(ip + 12), d = sf_get32(ip + 16);
        return (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) + proto + (uint32_t)len;
    }
    return csum_add(0, ip + 8, 32) + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff) + proto;
}

static inline uint16_t tcp_checksum(const uint8_t *ip, int v4, const uint8_t *tcp, size_t len)
{
    return csum_fold(csum_add(pseudo_sum(ip, v4, len, IPPROTO_TCP_NUM), tcp, len));
}

/* The address at p in a header: 4 bytes (IPv4, mapped) or 16. */
static inline sf_addr addr_at(const uint8_t *p, int v4)
{
    sf_addr a = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}};
    if (v4)
        memcpy(a.b + 12, p, 4);
    else
        memcpy(a.b, p, 16);
    return a;
}

void sf_wire_fill_ip_checksum(uint8_t *pkt)
{
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    sf_put16(pkt + 10, 0);
    sf_put16(pkt + 10, csum_fold(csum_add(0, pkt, ihl)));
}

/* Where the TCP header starts in a packet a kernel handed over (IPv4, or
 * IPv6 with TCP right behind its 40 bytes: what a kernel's own TCP sends),
 * and the family; SF_EBADMSG when it is no such packet of len bytes. */
static int tcp_offset(const uint8_t *pkt, size_t len, size_t *ihl, int *v4)
{
    *v4 = len >= 1 && pkt[0] >> 4 == 4;
    if (!*v4) {
        *ihl = IP6_HDR;
        return len >= IP6_HDR + TCP_HDR && pkt[0] >> 4 == 6 && pkt[6] == IPPROTO_TCP_NUM
                   ? 0
                   : SF_EBADMSG;
    }
    if (len < IP_HDR) return SF_EBADMSG;
    *ihl = (size_t)(pkt[0] & 15) * 4;
    return *ihl >= IP_HDR && len >= *ihl + TCP_HDR && pkt[9] == IPPROTO_TCP_NUM ? 0 : SF_EBADMSG;
}

int sf_wire_fill_partial_tcp_checksum(uint8_t *pkt, size_t len)
{
    size_t ihl;
    int v4;
    if (tcp_offset(pkt, len, &ihl, &v4) != 0) return SF_EBADMSG;
    /* the pseudo-header's sum, folded, not complemented: what the device
     * (here the kernel's GSO) starts from to sum the rest */
    uint16_t folded = (uint16_t)~csum_fold(pseudo_sum(pkt, v4, len - ihl, IPPROTO_TCP_NUM));
    sf_put16(pkt + ihl + 16, folded);
    return 0;
}

int sf_wire_fill_tcp_checksum(uint8_t *pkt, size_t len)
{
    size_t ihl;
    int v4;
    if (tcp_offset(pkt, len, &ihl, &v4) != 0) return SF_EBADMSG;
    uint8_t *tcp = pkt + ihl;
    sf_put16(tcp + 16, 0);
    sf_put16(tcp + 16, tcp_checksum(pkt, v4, tcp, len - ihl));
    return 0;
}

uint16_t sf_wire_icmp6_checksum(const uint8_t *pkt, size_t len)
{
    if (len < IP6_HDR) return 0xffff; /* no such packet: never "right" */
    size_t ulen = len - IP6_HDR;
    return csum_fold(csum_add(pseudo_sum(pkt, 0, ulen, IPPROTO_ICMPV6_NUM), pkt + IP6_HDR, ulen));
}

int sf_wire_ecn(const uint8_t *pkt, size_t len)
{
    if (len >= IP_HDR && pkt[0] >> 4 == 4) return pkt[1] & 3;
    if (len >= IP6_HDR && pkt[0] >> 4 == 6) return (pkt[1] >> 4) & 3; /* RFC 8200 §7 */
    return 0;
}

int sf_wire_mark_ce(uint8_t *pkt, size_t len)
{
    if (len >= IP6_HDR && pkt[0] >> 4 == 6) {
        /* the Traffic Class's two low bits, the second byte's bits 4-5;
         * no header checksum to follow */
        uint8_t ecn = (pkt[1] >> 4) & 3;
        if (ecn != 1 && ecn != 2) return 0;
        pkt[1] |= 0x30;
        return 1;
    }
    if (len < IP_HDR || pkt[0] >> 4 != 4) return 0;
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (ihl < IP_HDR || ihl > len) return 0;
    uint8_t ecn = pkt[1] & 3;
    if (ecn != 1 && ecn != 2) return 0; /* Not-ECT, or CE already */
    pkt[1] |= 3;
    sf_wire_fill_ip_checksum(pkt);
    return 1;
}

/* RFC 9293 §3.2: kind 0 ends the list, kind 1 is padding, every other option
 * has a length byte of at least 2 that must stay inside the header. */
static int parse_options(const uint8_t *p, size_t len, sf_seg *seg, const char **why)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == 0) break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= len || p[i + 1] < 2 || i + p[i + 1] > len) {
            *why = sf_reason_text(SF_R_BAD_OPTION);
            return SF_EBADMSG;
        }
        uint8_t olen = p[i + 1];
        const uint8_t *v = p + i + 2;
        switch (kind) {
        case 2:
            if (olen == 4) seg->mss = sf_get16(v);
            break;
        case 3:
            if (olen == 3) seg->wscale = (int8_t)(v[0] > 14 ? 14 : v[0]); /* RFC 7323 §2.3 */
            break;
        case 4:
            if (olen == 2) seg->sack_perm = 1;
            break;
        case 5: /* RFC 2018 §3: 8 bytes a block; more than 4 never fit */
            if (olen >= 10 && (olen - 2) % 8 == 0) {
                seg->sack_n = (uint8_t)((olen - 2) / 8 > 4 ? 4 : (olen - 2) / 8);
                for (int b = 0; b < seg->sack_n; b++) {
                    seg->sack[b][0] = sf_get32(v + 8 * b);
                    seg->sack[b][1] = sf_get32(v + 8 * b + 4);
                }
            }
            break;
        case 8:
            if (olen == 10) {
                seg->has_ts = 1;
                seg->ts_val = sf_get32(v);
                seg->ts_ecr = sf_get32(v + 4);
            }
            break;
        default: break; /* MUST-6: ignore options we do not implement */
        }
        i += olen;
    }
    return 0;
}

/* The IPv4 header (RFC 791): version, lengths, checksum; fragments are not
 * reassembled. Sets the header and total lengths. */
static int parse_ip(const uint8_t *pkt, size_t len, size_t *ihl, size_t *total, const char **why)
{
    if (len < IP_HDR) {
        *why = sf_reason_text(SF_R_SHORT_IP);
        return SF_EBADMSG;
    }
    if (pkt[0] >> 4 != 4) {
        *why = sf_reason_text(SF_R_NOT_IP);
        return SF_EBADMSG;
    }
    *ihl = (size_t)(pkt[0] & 0x0f) * 4;
    *total = sf_get16(pkt + 2);
    if (*ihl < IP_HDR || *total < *ihl || *total > len) {
        *why = sf_reason_text(SF_R_BAD_IP_LENGTH);
        return SF_EBADMSG;
    }
    if (csum_fold(csum_add(0, pkt, *ihl)) != 0) {
        *why = sf_reason_text(SF_R_BAD_IP_CHECKSUM);
        return SF_EBADMSG;
    }
    if ((sf_get16(pkt + 6) & 0x3fff) != 0) {
        *why = sf_reason_text(SF_R_FRAGMENT);
        return SF_EBADMSG;
    }
    return 0;
}

static int bad(const char **why, sf_reason r)
{
    *why = sf_reason_text(r);
    return SF_EBADMSG;
}

/* The options of a Hop-by-Hop or Destination Options header (RFC 8200
 * §4.2): Pad1 and PadN, and any other whose type's two high bits are 00
 * ("skip over this option") are skipped; any other says discard. */
static int ip6_options(const uint8_t *p, size_t len, const char **why)
{
    for (size_t i = 2; i < len;) {
        if (p[i] == 0) { /* Pad1 */
            i++;
            continue;
        }
        if (i + 1 >= len || i + 2 + p[i + 1] > len) return bad(why, SF_R_BAD_IP6_LENGTH);
        if (p[i] != 1 && (p[i] >> 6) != 0) return bad(why, SF_R_IP6_OPTION);
        i += 2u + p[i + 1];
    }
    return 0;
}

/* The IPv6 header and its extension headers (RFC 8200 §3, §4), up to the
 * upper-layer header: *off is where it starts, *ulen its length, *proto its
 * next header value (TCP, ICMPv6). A host skips Hop-by-Hop (first only,
 * §4.3), Destination Options (§4.6) and a Routing header whose Segments Left
 * is 0 (§4.4: else it would have to forward it); it does not reassemble a
 * Fragment header (§4.5) and refuses any next header it does not know (§4:
 * it would send a Parameter Problem; here a counted drop). A quote (an
 * ICMPv6 error's copy of the packet we sent) is cut short: its payload
 * length is not checked against what is there. */
static int parse_ip6(const uint8_t *pkt, size_t len, int quote, size_t *off, size_t *ulen,
                     uint8_t *proto, const char **why)
{
    if (len < IP6_HDR) return bad(why, SF_R_SHORT_IP6);
    if (pkt[0] >> 4 != 6) return bad(why, SF_R_NOT_IP);
    size_t end = IP6_HDR + (size_t)sf_get16(pkt + 4);
    if (quote)
        end = len;
    else if (end > len) /* a payload length of 0 would be a jumbogram (RFC 2675): refused too */
        return bad(why, SF_R_BAD_IP6_LENGTH);
    if (sf_addr_is_v4(addr_at(pkt + 8, 0)) || sf_addr_is_v4(addr_at(pkt + 24, 0)))
        return bad(why, SF_R_IP6_V4MAPPED);
    uint8_t nh = pkt[6];
    size_t at = IP6_HDR;
    /* each header takes 8 bytes at least: the walk ends with the packet */
    for (;;) {
        switch (nh) {
        case IPPROTO_TCP_NUM:
        case IPPROTO_ICMPV6_NUM:
            *off = at;
            *ulen = end - at;
            *proto = nh;
            return 0;
        case NH_HOP_BY_HOP:
            if (at != IP6_HDR) return bad(why, SF_R_IP6_NEXT_HEADER); /* §4.3: first only */
            /* fallthrough */
        case NH_DEST_OPTS:
        case NH_ROUTING: {
            if (at + 8 > end) return bad(why, SF_R_BAD_IP6_LENGTH);
            size_t hlen = ((size_t)pkt[at + 1] + 1) * 8;
            if (at + hlen > end) return bad(why, SF_R_BAD_IP6_LENGTH);
            if (nh == NH_ROUTING && pkt[at + 3] != 0) return bad(why, SF_R_IP6_ROUTING);
            if (nh != NH_ROUTING && ip6_options(pkt + at, hlen, why) != 0) return SF_EBADMSG;
            nh = pkt[at];
            at += hlen;
            break;
        }
        case NH_FRAGMENT: return bad(why, SF_R_IP6_FRAGMENT);
        case NH_NONE: return bad(why, SF_R_NOT_TCP);
        default: return bad(why, SF_R_IP6_NEXT_HEADER);
        }
    }
}

/* The IP header of either version, up to the upper layer: its offset, its
 * length and protocol; the addresses; TTL or Hop Limit, TOS or Traffic Class. */
static int parse_ip6_seg(const uint8_t *pkt, size_t len, size_t *off, size_t *ulen, uint8_t *proto,
                         sf_seg *seg, const char **why)
{
    if (parse_ip6(pkt, len, 0, off, ulen, proto, why) != 0) return SF_EBADMSG;
    seg->tos = (uint8_t)(pkt[0] << 4 | pkt[1] >> 4);
    seg->ttl = pkt[7];
    seg->saddr = addr_at(pkt + 8, 0);
    seg->daddr = addr_at(pkt + 24, 0);
    return 0;
}

/* (inline: IPv4's path is the lifecycle's, IPv6's a call) */
static inline int parse_any_ip(const uint8_t *pkt, size_t len, size_t *off, size_t *ulen,
                               uint8_t *proto, sf_seg *seg, const char **why)
{
    if (len >= 1 && pkt[0] >> 4 == 6) return parse_ip6_seg(pkt, len, off, ulen, proto, seg, why);
    size_t ihl, total;
    if (parse_ip(pkt, len, &ihl, &total, why) != 0) return SF_EBADMSG;
    *off = ihl;
    *ulen = total - ihl;
    *proto = pkt[9];
    seg->ttl = pkt[8];
    seg->tos = pkt[1];
    seg->saddr = addr_at(pkt + 12, 1);
    seg->daddr = addr_at(pkt + 16, 1);
    return 0;
}

/* The parser of sf_wire_parse and sf_wire_parse_trusted: `verify` says
 * whether the TCP checksum is checked. */
static int parse_tcp(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why, bool verify)
{
    static const char *unused;
    if (!why) why = &unused;
    memset(seg, 0, sizeof *seg);
    seg->wscale = -1;
    size_t off, tlen;
    uint8_t proto;
    if (parse_any_ip(pkt, len, &off, &tlen, &proto, seg, why) != 0) return SF_EBADMSG;
    if (proto != IPPROTO_TCP_NUM) return bad(why, SF_R_NOT_TCP);

    const uint8_t *tcp = pkt + off;
    if (tlen < TCP_HDR) {
        *why = sf_reason_text(SF_R_SHORT_TCP);
        return SF_EBADMSG;
    }
    size_t doff = (size_t)(tcp[12] >> 4) * 4;
    if (doff < TCP_HDR || doff > tlen) {
        *why = sf_reason_text(SF_R_BAD_DATA_OFFSET);
        return SF_EBADMSG;
    }
    seg->sport = sf_get16(tcp);
    seg->dport = sf_get16(tcp + 2);
    seg->seq = sf_get32(tcp + 4);
    seg->ack = sf_get32(tcp + 8);
    seg->flags = tcp[13];
    seg->wnd = sf_get16(tcp + 14);
    seg->urp = sf_get16(tcp + 18);
    if (parse_options(tcp + TCP_HDR, doff - TCP_HDR, seg, why) != 0) return SF_EBADMSG;
    seg->payload = tcp + doff;
    seg->len = (uint32_t)(tlen - doff);
    /* checked last, so that a driver can still show what a corrupted
     * segment said (MUST-2, MUST-3: the checksum is verified) */
    if (verify && tcp_checksum(pkt, pkt[0] >> 4 == 4, tcp, tlen) != 0) {
        seg->bad_csum = 1;
        *why = sf_reason_text(SF_R_BAD_CHECKSUM);
        return SF_EBADMSG;
    }
    return 0;
}

int sf_wire_parse(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why)
{
    return parse_tcp(pkt, len, seg, why, true);
}

int sf_wire_parse_trusted(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why)
{
    return parse_tcp(pkt, len, seg, why, false);
}

/* Writes the options a segment carries, padded to 4 bytes; returns length. */
static size_t build_options(uint8_t *p, const sf_seg *seg)
{
    size_t n = 0;
    if (seg->mss) {
        p[n++] = 2;
        p[n++] = 4;
        sf_put16(p + n, seg->mss);
        n += 2;
    }
    if (seg->sack_perm) {
        p[n++] = 1;
        p[n++] = 1;
        p[n++] = 4;
        p[n++] = 2;
    }
    if (seg->has_ts) {
        p[n++] = 1;
        p[n++] = 1;
        p[n++] = 8;
        p[n++] = 10;
        sf_put32(p + n, seg->ts_val);
        sf_put32(p + n + 4, seg->ts_ecr);
        n += 8;
    }
    if (seg->wscale >= 0) {
        p[n++] = 1;
        p[n++] = 3;
        p[n++] = 3;
        p[n++] = (uint8_t)seg->wscale;
    }
    /* RFC 2018 §3: as many blocks as the 40 bytes of options still hold */
    int blocks = seg->sack_n > 4 ? 4 : seg->sack_n;
    while (blocks > 0 && n + 4 + 8 * (size_t)blocks > 40)
        blocks--;
    if (blocks > 0) {
        p[n++] = 1;
        p[n++] = 1;
        p[n++] = 5;
        p[n++] = (uint8_t)(2 + 8 * blocks);
        for (int b = 0; b < blocks; b++) {
            sf_put32(p + n, seg->sack[b][0]);
            sf_put32(p + n + 4, seg->sack[b][1]);
            n += 8;
        }
    }
    return n;
}

size_t sf_wire_options_len(const sf_seg *seg)
{
    uint8_t opts[40];
    return build_options(opts, seg);
}

size_t sf_wire_headers_len(const sf_seg *seg)
{
    return (sf_addr_is_v4(seg->saddr) ? (size_t)IP_HDR : (size_t)IP6_HDR) + TCP_HDR +
           sf_wire_options_len(seg);
}

/* An IP header of the addresses' family for `ulen` bytes of protocol
 * `proto`; returns its length. */
static inline size_t build_ip(uint8_t *ip, int v4, const sf_addr *saddr, const sf_addr *daddr,
                              uint8_t tos, uint8_t ttl, uint8_t proto, size_t ulen)
{
    if (v4) {
        memset(ip, 0, IP_HDR);
        ip[0] = 0x45;
        ip[1] = tos;
        sf_put16(ip + 2, (uint16_t)(IP_HDR + ulen));
        sf_put16(ip + 6, 0x4000); /* DF */
        ip[8] = ttl;
        ip[9] = proto;
        memcpy(ip + 12, saddr->b + 12, 4); /* (in wire order already) */
        memcpy(ip + 16, daddr->b + 12, 4);
        sf_put16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));
        return IP_HDR;
    }
    /* RFC 8200 §3: version 6, the Traffic Class (DS and ECN, §7), flow label 0 */
    ip[0] = (uint8_t)(0x60 | tos >> 4);
    ip[1] = (uint8_t)(tos << 4);
    ip[2] = ip[3] = 0;
    sf_put16(ip + 4, (uint16_t)ulen);
    ip[6] = proto;
    ip[7] = ttl; /* the Hop Limit */
    memcpy(ip + 8, saddr->b, 16);
    memcpy(ip + 24, daddr->b, 16);
    return IP6_HDR;
}

int sf_wire_build(uint8_t *buf, size_t cap, const sf_seg *seg)
{
    int v4 = sf_addr_is_v4(seg->saddr);
    if (v4 != sf_addr_is_v4(seg->daddr)) return SF_EINVAL;
    uint8_t opts[40];
    size_t olen = build_options(opts, seg);
    size_t tlen = TCP_HDR + olen + seg->len;
    size_t ihl = v4 ? IP_HDR : IP6_HDR;
    size_t total = ihl + tlen;
    if (total > cap || (v4 ? total : tlen) > 65535) return SF_ENOBUFS;

    build_ip(buf, v4, &seg->saddr, &seg->daddr, seg->tos, seg->ttl ? seg->ttl : 64, IPPROTO_TCP_NUM,
             tlen);
    uint8_t *tcp = buf + ihl;
    sf_put16(tcp, seg->sport);
    sf_put16(tcp + 2, seg->dport);
    sf_put32(tcp + 4, seg->seq);
    sf_put32(tcp + 8, seg->ack);
    tcp[12] = (uint8_t)(((TCP_HDR + olen) / 4) << 4);
    tcp[13] = seg->flags;
    sf_put16(tcp + 14, seg->wnd);
    sf_put16(tcp + 16, 0);
    sf_put16(tcp + 18, seg->urp);
    memcpy(tcp + TCP_HDR, opts, olen);
    /* a payload already in its place (the core's data path peeks it there:
     * sf_wire_options_len) is not copied onto itself */
    if (seg->len && seg->payload != tcp + TCP_HDR + olen)
        memcpy(tcp + TCP_HDR + olen, seg->payload, seg->len);
    uint16_t sum = tcp_checksum(buf, v4, tcp, tlen);
    if (seg->bad_csum) sum ^= 0x5a5a;
    sf_put16(tcp + 16, sum);
    return (int)total;
}

/* the order people say them in: SYN+ACK "SA", FIN+ACK "FA", PSH+ACK "PA" */
static const char flag_letters[] = "SFRPAUEC";
static const uint8_t flag_bits[] = {SF_SYN, SF_FIN, SF_RST, SF_PSH, SF_ACK, SF_URG, SF_ECE, SF_CWR};

void sf_flags_str(uint8_t flags, char out[9])
{
    size_t n = 0;
    for (size_t i = 0; i < 8; i++)
        if (flags & flag_bits[i]) out[n++] = flag_letters[i];
    out[n] = 0;
}

int sf_flags_parse(const char *s)
{
    int flags = 0;
    for (; *s; s++) {
        const char *at = strchr(flag_letters, *s);
        if (!at || !*s) return -1;
        flags |= flag_bits[at - flag_letters];
    }
    return flags;
}

/* ---- addresses ------------------------------------------------------------------ */

/* strictly four decimal parts of 1-3 digits, each <= 255, nothing else */
static int parse_quad(const char *s, uint8_t out[4])
{
    for (int part = 0; part < 4; part++) {
        if (part > 0 && *s++ != '.') return SF_EINVAL;
        unsigned v = 0;
        int digits = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (++digits > 3) return SF_EINVAL;
            v = v * 10 + (unsigned)(*s - '0');
        }
        if (digits == 0 || v > 255) return SF_EINVAL;
        out[part] = (uint8_t)v;
    }
    return *s ? SF_EINVAL : SF_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* RFC 4291 §2.2: eight groups of 1-4 hex digits, one "::" standing for one
 * or more zero groups, and a dotted quad for the last two; nothing else (no
 * zone, no prefix length). */
static int parse_v6(const char *s, uint8_t out[16])
{
    uint8_t b[16] = {0};
    int n = 0, gap = -1; /* bytes written; where "::" stands */
    if (s[0] == ':') {
        if (s[1] != ':') return SF_EINVAL;
        gap = 0;
        s += 2;
        if (!*s) goto done;
    }
    for (;;) {
        const char *g = s;
        unsigned v = 0;
        int digits = 0;
        while (hexval(*s) >= 0) {
            if (++digits > 4) return SF_EINVAL;
            v = v << 4 | (unsigned)hexval(*s++);
        }
        if (*s == '.') { /* the dotted quad: the last 32 bits */
            if (n > 12 || parse_quad(g, b + n) != 0) return SF_EINVAL;
            n += 4;
            break;
        }
        if (digits == 0 || n > 14) return SF_EINVAL;
        b[n++] = (uint8_t)(v >> 8);
        b[n++] = (uint8_t)v;
        if (!*s) break;
        if (*s++ != ':') return SF_EINVAL;
        if (*s == ':') {
            if (gap >= 0) return SF_EINVAL; /* one "::" at most */
            gap = n;
            if (!*++s) break;
        }
    }
done:
    if (gap < 0 ? n != 16 : n > 14) return SF_EINVAL;
    if (gap >= 0) { /* the groups after "::" go to the end */
        int tail = n - gap;
        memset(out, 0, 16);
        memcpy(out, b, (size_t)gap);
        memcpy(out + 16 - tail, b + gap, (size_t)tail);
    } else {
        memcpy(out, b, 16);
    }
    return SF_OK;
}

int sf_addr_parse(const char *s, sf_addr *addr)
{
    sf_addr a;
    if (strchr(s, ':')) {
        if (parse_v6(s, a.b) != 0) return SF_EINVAL;
    } else {
        uint8_t q[4];
        if (parse_quad(s, q) != 0) return SF_EINVAL;
        a = sf_addr_v4((uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]);
    }
    *addr = a;
    return SF_OK;
}

int sf_addr_is_unicast(sf_addr a)
{
    if (sf_addr_is_v4(a)) {
        uint32_t v = sf_addr_v4_of(a);
        return (v >> 24) != 0 && (v >> 28) != 0xe && (v >> 28) != 0xf;
    }
    return !sf_addr_is_zero(a) && a.b[0] != 0xff; /* RFC 4291 §2.5.2, §2.7 */
}

void sf_addr_str(sf_addr a, char out[SF_ADDR_STRLEN])
{
    if (sf_addr_is_v4(a)) {
        snprintf(out, SF_ADDR_STRLEN, "%u.%u.%u.%u", a.b[12], a.b[13], a.b[14], a.b[15]);
        return;
    }
    /* RFC 5952 §4.2: the longest run of two or more zero groups becomes
     * "::", the first of runs of equal length (§4.2.3) */
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && a.b[2 * j] == 0 && a.b[2 * j + 1] == 0)
            j++;
        if (j - i > best_len) best = i, best_len = j - i;
        i = j > i ? j : i + 1;
    }
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            memcpy(out + n, "::", 3);
            n += 2;
            i += best_len - 1;
            continue;
        }
        /* §4.1 no leading zeros, §4.3 lower case */
        n += (size_t)snprintf(out + n, SF_ADDR_STRLEN - n, "%s%x",
                              i > 0 && i != best + best_len ? ":" : "",
                              (unsigned)(a.b[2 * i] << 8 | a.b[2 * i + 1]));
    }
}

void sf_endpoint_str(sf_addr a, uint16_t port, char out[SF_ENDPOINT_STRLEN])
{
    char s[SF_ADDR_STRLEN];
    sf_addr_str(a, s);
    snprintf(out, SF_ENDPOINT_STRLEN, sf_addr_is_v4(a) ? "%s:%u" : "[%s]:%u", s, port);
}

/* ---- ICMP (RFC 792) and ICMPv6 (RFC 4443), for the errors TCP acts on
 * (RFC 9293 §3.9.2.2) ---------------------------------------------------------------- */

int sf_wire_is_icmp(const uint8_t *pkt, size_t len)
{
    if (len >= IP6_HDR && pkt[0] >> 4 == 6) {
        size_t off, ulen;
        uint8_t proto;
        const char *why;
        return parse_ip6(pkt, len, 0, &off, &ulen, &proto, &why) == 0 &&
               proto == IPPROTO_ICMPV6_NUM;
    }
    return len >= IP_HDR && pkt[0] >> 4 == 4 && pkt[9] == IPPROTO_ICMP_NUM;
}

int sf_icmp_parse(const uint8_t *pkt, size_t len, sf_icmp *m, const char **why)
{
    static const char *unused;
    if (!why) why = &unused;
    memset(m, 0, sizeof *m);
    sf_seg ip;
    size_t off, ilen;
    uint8_t proto;
    memset(&ip, 0, sizeof ip);
    if (parse_any_ip(pkt, len, &off, &ilen, &proto, &ip, why) != 0) return SF_EBADMSG;
    int v4 = sf_addr_is_v4(ip.saddr);
    if (proto != (v4 ? IPPROTO_ICMP_NUM : IPPROTO_ICMPV6_NUM)) return bad(why, SF_R_NOT_ICMP);
    const uint8_t *icmp = pkt + off;
    if (ilen < ICMP_HDR) return bad(why, SF_R_SHORT_ICMP);
    /* ICMPv6's checksum covers the pseudo-header too (RFC 4443 §2.3) */
    uint32_t sum0 = v4 ? 0 : pseudo_sum(pkt, 0, ilen, IPPROTO_ICMPV6_NUM);
    if (csum_fold(csum_add(sum0, icmp, ilen)) != 0) return bad(why, SF_R_BAD_ICMP_CHECKSUM);
    m->saddr = ip.saddr;
    m->daddr = ip.daddr;
    m->type = icmp[0];
    m->code = icmp[1];
    /* RFC 1191: the next-hop MTU of "fragmentation needed"; RFC 4443 §3.2:
     * Packet Too Big's 32-bit MTU */
    m->mtu = v4 ? sf_get16(icmp + 6) : sf_get32(icmp + 4);
    /* the offending datagram: its IP header (and, over IPv6, the extension
     * headers we never send but a path may add) and at least 8 bytes of TCP */
    const uint8_t *q = icmp + ICMP_HDR;
    size_t qlen = ilen - ICMP_HDR, qoff, qulen;
    if (v4) {
        if (qlen < IP_HDR || q[0] >> 4 != 4) return bad(why, SF_R_ICMP_NO_IP);
        qoff = (size_t)(q[0] & 0x0f) * 4;
        if (qoff < IP_HDR || qlen < qoff + 8 || q[9] != IPPROTO_TCP_NUM)
            return bad(why, SF_R_ICMP_NO_TCP);
        m->q_saddr = addr_at(q + 12, 1);
        m->q_daddr = addr_at(q + 16, 1);
    } else {
        const char *qwhy;
        if (qlen < IP6_HDR || q[0] >> 4 != 6) return bad(why, SF_R_ICMP_NO_IP);
        if (parse_ip6(q, qlen, 1, &qoff, &qulen, &proto, &qwhy) != 0 || proto != IPPROTO_TCP_NUM ||
            qulen < 8)
            return bad(why, SF_R_ICMP_NO_TCP);
        m->q_saddr = addr_at(q + 8, 0);
        m->q_daddr = addr_at(q + 24, 0);
    }
    m->q_sport = sf_get16(q + qoff);
    m->q_dport = sf_get16(q + qoff + 2);
    m->q_seq = sf_get32(q + qoff + 4);
    return 0;
}

int sf_icmp_build(uint8_t *buf, size_t cap, const sf_icmp *m)
{
    int v4 = sf_addr_is_v4(m->saddr);
    if (v4 != sf_addr_is_v4(m->daddr) || v4 != sf_addr_is_v4(m->q_saddr) ||
        v4 != sf_addr_is_v4(m->q_daddr))
        return SF_EINVAL;
    size_t ihl = v4 ? IP_HDR : IP6_HDR;
    size_t ulen = ICMP_HDR + ihl + 8, total = ihl + ulen;
    if (cap < total) return SF_ENOBUFS;
    memset(buf, 0, total);
    build_ip(buf, v4, &m->saddr, &m->daddr, 0, 64, v4 ? IPPROTO_ICMP_NUM : IPPROTO_ICMPV6_NUM,
             ulen);
    uint8_t *icmp = buf + ihl;
    icmp[0] = m->type;
    icmp[1] = m->code;
    if (v4)
        sf_put16(icmp + 6, (uint16_t)m->mtu);
    else
        sf_put32(icmp + 4, m->mtu);
    /* the quoted datagram: its IP header and the first 8 bytes of TCP */
    uint8_t *q = icmp + ICMP_HDR;
    build_ip(q, v4, &m->q_saddr, &m->q_daddr, 0, 64, IPPROTO_TCP_NUM, TCP_HDR);
    sf_put16(q + ihl, m->q_sport);
    sf_put16(q + ihl + 2, m->q_dport);
    sf_put32(q + ihl + 4, m->q_seq);
    uint32_t sum0 = v4 ? 0 : pseudo_sum(buf, 0, ulen, IPPROTO_ICMPV6_NUM);
    sf_put16(icmp + 2, csum_fold(csum_add(sum0, icmp, ulen)));
    return (int)total;
}

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

#define IP_HDR           20
#define TCP_HDR          20
#define IPPROTO_TCP_NUM  6
#define IPPROTO_ICMP_NUM 1
#define ICMP_HDR         8

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
 * destination address, protocol and TCP length. */
static uint32_t pseudo_sum(uint32_t saddr, uint32_t daddr, size_t len)
{
    return (saddr >> 16) + (saddr & 0xffff) + (daddr >> 16) + (daddr & 0xffff) + IPPROTO_TCP_NUM +
           (uint32_t)len;
}

static uint16_t tcp_checksum(uint32_t saddr, uint32_t daddr, const uint8_t *tcp, size_t len)
{
    return csum_fold(csum_add(pseudo_sum(saddr, daddr, len), tcp, len));
}

void sf_wire_fill_ip_checksum(uint8_t *pkt)
{
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    sf_put16(pkt + 10, 0);
    sf_put16(pkt + 10, csum_fold(csum_add(0, pkt, ihl)));
}

int sf_wire_fill_partial_tcp_checksum(uint8_t *pkt, size_t len)
{
    if (len < IP_HDR) return SF_EBADMSG;
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (ihl < IP_HDR || len < ihl + TCP_HDR || pkt[9] != IPPROTO_TCP_NUM) return SF_EBADMSG;
    /* the pseudo-header's sum, folded, not complemented: what the device
     * (here the kernel's GSO) starts from to sum the rest */
    uint16_t folded =
        (uint16_t)~csum_fold(pseudo_sum(sf_get32(pkt + 12), sf_get32(pkt + 16), len - ihl));
    sf_put16(pkt + ihl + 16, folded);
    return 0;
}

int sf_wire_fill_tcp_checksum(uint8_t *pkt, size_t len)
{
    if (len < IP_HDR) return SF_EBADMSG;
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    if (ihl < IP_HDR || len < ihl + TCP_HDR || pkt[9] != IPPROTO_TCP_NUM) return SF_EBADMSG;
    uint8_t *tcp = pkt + ihl;
    sf_put16(tcp + 16, 0);
    sf_put16(tcp + 16, tcp_checksum(sf_get32(pkt + 12), sf_get32(pkt + 16), tcp, len - ihl));
    return 0;
}

int sf_wire_mark_ce(uint8_t *pkt, size_t len)
{
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
        *why = sf_reason_text(SF_R_NOT_IPV4);
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

/* The parser of sf_wire_parse and sf_wire_parse_trusted: `verify` says
 * whether the TCP checksum is checked. */
static int parse_tcp(const uint8_t *pkt, size_t len, sf_seg *seg, const char **why, bool verify)
{
    static const char *unused;
    if (!why) why = &unused;
    memset(seg, 0, sizeof *seg);
    seg->wscale = -1;
    size_t ihl, total;
    if (parse_ip(pkt, len, &ihl, &total, why) != 0) return SF_EBADMSG;
    if (pkt[9] != IPPROTO_TCP_NUM) {
        *why = sf_reason_text(SF_R_NOT_TCP);
        return SF_EBADMSG;
    }
    seg->ttl = pkt[8];
    seg->tos = pkt[1];
    seg->saddr = sf_get32(pkt + 12);
    seg->daddr = sf_get32(pkt + 16);

    const uint8_t *tcp = pkt + ihl;
    size_t tlen = total - ihl;
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
    if (verify && tcp_checksum(seg->saddr, seg->daddr, tcp, tlen) != 0) {
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

int sf_wire_build(uint8_t *buf, size_t cap, const sf_seg *seg)
{
    uint8_t opts[40];
    size_t olen = build_options(opts, seg);
    size_t tlen = TCP_HDR + olen + seg->len;
    size_t total = IP_HDR + tlen;
    if (total > cap || total > 65535) return SF_ENOBUFS;

    uint8_t *ip = buf;
    memset(ip, 0, IP_HDR);
    ip[0] = 0x45;
    ip[1] = seg->tos;
    sf_put16(ip + 2, (uint16_t)total);
    sf_put16(ip + 6, 0x4000); /* DF */
    ip[8] = seg->ttl ? seg->ttl : 64;
    ip[9] = IPPROTO_TCP_NUM;
    sf_put32(ip + 12, seg->saddr);
    sf_put32(ip + 16, seg->daddr);
    sf_put16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));

    uint8_t *tcp = buf + IP_HDR;
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
    uint16_t sum = tcp_checksum(seg->saddr, seg->daddr, tcp, tlen);
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

int sf_addr_parse(const char *s, uint32_t *addr)
{
    /* strictly four decimal parts of 1-3 digits, each <= 255, nothing else */
    uint32_t a = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && *s++ != '.') return SF_EINVAL;
        unsigned v = 0;
        int digits = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (++digits > 3) return SF_EINVAL;
            v = v * 10 + (unsigned)(*s - '0');
        }
        if (digits == 0 || v > 255) return SF_EINVAL;
        a = a << 8 | v;
    }
    if (*s) return SF_EINVAL;
    *addr = a;
    return SF_OK;
}

int sf_addr_is_unicast(uint32_t a)
{
    return (a >> 24) != 0 && (a >> 28) != 0xe && (a >> 28) != 0xf;
}

void sf_addr_str(uint32_t addr, char out[16])
{
    snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
}

/* ---- ICMP (RFC 792), for the errors TCP acts on (RFC 9293 §3.9.2.2) ---------- */

int sf_wire_is_icmp(const uint8_t *pkt, size_t len)
{
    return len >= IP_HDR && pkt[0] >> 4 == 4 && pkt[9] == IPPROTO_ICMP_NUM;
}

int sf_icmp_parse(const uint8_t *pkt, size_t len, sf_icmp *m, const char **why)
{
    static const char *unused;
    if (!why) why = &unused;
    memset(m, 0, sizeof *m);
    size_t ihl, total;
    if (parse_ip(pkt, len, &ihl, &total, why) != 0) return SF_EBADMSG;
    if (pkt[9] != IPPROTO_ICMP_NUM) {
        *why = sf_reason_text(SF_R_NOT_ICMP);
        return SF_EBADMSG;
    }
    const uint8_t *icmp = pkt + ihl;
    size_t ilen = total - ihl;
    if (ilen < ICMP_HDR) {
        *why = sf_reason_text(SF_R_SHORT_ICMP);
        return SF_EBADMSG;
    }
    if (csum_fold(csum_add(0, icmp, ilen)) != 0) {
        *why = sf_reason_text(SF_R_BAD_ICMP_CHECKSUM);
        return SF_EBADMSG;
    }
    m->saddr = sf_get32(pkt + 12);
    m->daddr = sf_get32(pkt + 16);
    m->type = icmp[0];
    m->code = icmp[1];
    m->mtu = sf_get16(icmp + 6); /* RFC 1191: next-hop MTU, in "fragmentation needed" */
    /* the offending datagram: its IPv4 header and at least 8 bytes of TCP */
    const uint8_t *q = icmp + ICMP_HDR;
    size_t qlen = ilen - ICMP_HDR;
    if (qlen < IP_HDR || q[0] >> 4 != 4) {
        *why = sf_reason_text(SF_R_ICMP_NO_IP);
        return SF_EBADMSG;
    }
    size_t qihl = (size_t)(q[0] & 0x0f) * 4;
    if (qihl < IP_HDR || qlen < qihl + 8 || q[9] != IPPROTO_TCP_NUM) {
        *why = sf_reason_text(SF_R_ICMP_NO_TCP);
        return SF_EBADMSG;
    }
    m->q_saddr = sf_get32(q + 12);
    m->q_daddr = sf_get32(q + 16);
    m->q_sport = sf_get16(q + qihl);
    m->q_dport = sf_get16(q + qihl + 2);
    m->q_seq = sf_get32(q + qihl + 4);
    return 0;
}

int sf_icmp_build(uint8_t *buf, size_t cap, const sf_icmp *m)
{
    size_t total = IP_HDR + ICMP_HDR + IP_HDR + 8;
    if (cap < total) return SF_ENOBUFS;
    memset(buf, 0, total);
    uint8_t *ip = buf;
    ip[0] = 0x45;
    sf_put16(ip + 2, (uint16_t)total);
    ip[8] = 64;
    ip[9] = IPPROTO_ICMP_NUM;
    sf_put32(ip + 12, m->saddr);
    sf_put32(ip + 16, m->daddr);
    sf_put16(ip + 10, csum_fold(csum_add(0, ip, IP_HDR)));
    uint8_t *icmp = buf + IP_HDR;
    icmp[0] = m->type;
    icmp[1] = m->code;
    sf_put16(icmp + 6, m->mtu);
    /* the quoted datagram: an IPv4 header and the first 8 bytes of TCP */
    uint8_t *q = icmp + ICMP_HDR;
    q[0] = 0x45;
    sf_put16(q + 2, IP_HDR + TCP_HDR);
    q[8] = 64;
    q[9] = IPPROTO_TCP_NUM;
    sf_put32(q + 12, m->q_saddr);
    sf_put32(q + 16, m->q_daddr);
    sf_put16(q + 10, csum_fold(csum_add(0, q, IP_HDR)));
    sf_put16(q + IP_HDR, m->q_sport);
    sf_put16(q + IP_HDR + 2, m->q_dport);
    sf_put32(q + IP_HDR + 4, m->q_seq);
    sf_put16(icmp + 2, csum_fold(csum_add(0, icmp, total - IP_HDR)));
    return (int)total;
}

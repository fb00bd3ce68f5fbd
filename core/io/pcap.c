/* pcap.c - the pcapng writer (see pcap.h). The format is the IETF draft
 * "PCAP Next Generation (pcapng) Capture File Format": a file is a list of
 * blocks, each
 *
 *   type (4) | total length (4) | body | total length again (4)
 *
 * with every body padded to 32 bits, options inside a body as
 * code (2) | length (2) | value padded to 32 bits, ended by opt_endofopt
 * (code 0, length 0). */
#include "pcap.h"

#include "../synfin.h" /* SF_VERSION */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BT_SHB           0x0A0D0D0Au /* Section Header Block */
#define BT_IDB           0x00000001u /* Interface Description Block */
#define BT_EPB           0x00000006u /* Enhanced Packet Block */
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_ENDOFOPT     0
#define OPT_COMMENT      1
#define SHB_USERAPPL     4
#define IF_TSRESOL       9
#define LINKTYPE_RAW     101    /* raw IPv4 or IPv6, no link-layer header */
#define SNAPLEN          262144 /* libpcap's largest; an IPv4 datagram is smaller */
#define APPLICATION      "synfin " SF_VERSION

struct sf_pcap {
    FILE *f;
    int err; /* errno of the first failed write, 0 if none */
    uint64_t count;
    char path[]; /* for messages */
};

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* ---- little-endian output: the byte-order magic tells readers ---------------- */

static void put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, uint32_t v)
{
    put16(b, (uint16_t)v);
    put16(b + 2, (uint16_t)(v >> 16));
}

static void out(sf_pcap *pc, const void *data, size_t len)
{
    if (pc->err || len == 0) return;
    errno = 0;
    if (fwrite(data, 1, len, pc->f) != len) pc->err = errno ? errno : EIO;
}

static void out32(sf_pcap *pc, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    out(pc, b, 4);
}

/* Zeros up to the next multiple of 4 after len bytes. */
static void out_pad(sf_pcap *pc, size_t len)
{
    static const uint8_t zeros[4];
    out(pc, zeros, pad4(len) - len);
}

/* One option: code, length, value and its padding. */
static void out_option(sf_pcap *pc, uint16_t code, const void *value, uint16_t len)
{
    uint8_t b[4];
    put16(b, code);
    put16(b + 2, len);
    out(pc, b, 4);
    out(pc, value, len);
    out_pad(pc, len);
}

/* The size of an option with a value of len bytes, header included. */
static size_t option_size(size_t len)
{
    return 4 + pad4(len);
}

/* ---- the file ---------------------------------------------------------------- */

/* The section header: byte order, version 1.0, section length unknown (-1,
 * so that the file can grow without going back), and who wrote it. */
static void write_shb(sf_pcap *pc)
{
    static const char app[] = APPLICATION;
    size_t total = 12 + 4 + 8 + option_size(sizeof app - 1) + option_size(0) + 4;
    uint8_t b[16];
    put32(b, BT_SHB);
    put32(b + 4, (uint32_t)total);
    put32(b + 8, BYTE_ORDER_MAGIC);
    put16(b + 12, 1); /* major */
    put16(b + 14, 0); /* minor */
    out(pc, b, 16);
    out32(pc, 0xFFFFFFFFu); /* section length: -1, not specified */
    out32(pc, 0xFFFFFFFFu);
    out_option(pc, SHB_USERAPPL, app, sizeof app - 1);
    out_option(pc, OPT_ENDOFOPT, NULL, 0);
    out32(pc, (uint32_t)total);
}

/* The one interface: raw IPv4, timestamps in microseconds (if_tsresol 6:
 * 10^-6 s; it is the default, written so that no reader has to assume). */
static void write_idb(sf_pcap *pc)
{
    static const uint8_t tsresol = 6;
    size_t total = 8 + 8 + option_size(1) + option_size(0) + 4;
    uint8_t b[16];
    put32(b, BT_IDB);
    put32(b + 4, (uint32_t)total);
    put16(b + 8, LINKTYPE_RAW);
    put16(b + 10, 0); /* reserved */
    put32(b + 12, SNAPLEN);
    out(pc, b, 16);
    out_option(pc, IF_TSRESOL, &tsresol, 1);
    out_option(pc, OPT_ENDOFOPT, NULL, 0);
    out32(pc, (uint32_t)total);
}

sf_pcap *sf_pcap_open(const char *path, char *err, size_t errlen)
{
    size_t n = strlen(path);
    sf_pcap *pc = calloc(1, sizeof *pc + n + 1);
    if (!pc) {
        if (err) snprintf(err, errlen, "cannot open %s: %s", path, strerror(ENOMEM));
        return NULL;
    }
    memcpy(pc->path, path, n + 1);
    pc->f = fopen(path, "wb");
    if (!pc->f) {
        if (err) snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(pc);
        return NULL;
    }
    write_shb(pc);
    write_idb(pc);
    return pc;
}

int sf_pcap_write(sf_pcap *pc, uint64_t time_us, const uint8_t *pkt, size_t len,
                  const char *comment)
{
    if (len > SNAPLEN) len = SNAPLEN; /* cannot happen with IPv4; the format needs it */
    size_t clen = comment ? strlen(comment) : 0;
    if (clen > UINT16_MAX) clen = UINT16_MAX;
    size_t options = clen ? option_size(clen) + option_size(0) : 0;
    size_t total = 28 + pad4(len) + options + 4;
    uint8_t b[28];
    put32(b, BT_EPB);
    put32(b + 4, (uint32_t)total);
    put32(b + 8, 0); /* interface 0, the one IDB */
    put32(b + 12, (uint32_t)(time_us >> 32));
    put32(b + 16, (uint32_t)time_us);
    put32(b + 20, (uint32_t)len); /* captured: all of it */
    put32(b + 24, (uint32_t)len); /* original */
    out(pc, b, sizeof b);
    out(pc, pkt, len);
    out_pad(pc, len);
    if (clen) {
        out_option(pc, OPT_COMMENT, comment, (uint16_t)clen);
        out_option(pc, OPT_ENDOFOPT, NULL, 0);
    }
    out32(pc, (uint32_t)total);
    if (pc->err) return -1;
    pc->count++;
    return 0;
}

uint64_t sf_pcap_count(const sf_pcap *pc)
{
    return pc->count;
}

int sf_pcap_close(sf_pcap *pc, char *err, size_t errlen)
{
    if (!pc) return 0;
    if (fflush(pc->f) != 0 && !pc->err) pc->err = errno ? errno : EIO;
    if (fclose(pc->f) != 0 && !pc->err) pc->err = errno ? errno : EIO;
    int rc = pc->err ? -1 : 0;
    if (rc && err) snprintf(err, errlen, "cannot write %s: %s", pc->path, strerror(pc->err));
    free(pc);
    return rc;
}

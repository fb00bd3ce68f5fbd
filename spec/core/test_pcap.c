/* The pcapng writer (core/io/pcap): a small file compared byte for byte
 * with the blocks laid out by hand from the pcapng specification (block
 * lengths at both ends, the byte-order magic, options padded to 32 bits and
 * ended by opt_endofopt); every block of a sim's recording walks cleanly;
 * a file that cannot be opened says why. */
#include "check.h"
#include "io/pcap.h"
#include "io/sim.h"

#include <stdlib.h>
#include <string.h>

#define FILE_NAME "test_pcap.pcapng"

/* ---- the expected bytes, little-endian ---------------------------------------- */

typedef struct {
    uint8_t b[4096];
    size_t n;
} bytes;

static void le32(bytes *x, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        x->b[x->n++] = (uint8_t)(v >> (8 * i));
}

static void le16(bytes *x, uint16_t v)
{
    x->b[x->n++] = (uint8_t)v;
    x->b[x->n++] = (uint8_t)(v >> 8);
}

static void raw(bytes *x, const void *p, size_t len)
{
    memcpy(x->b + x->n, p, len);
    x->n += len;
}

static void zeros(bytes *x, size_t len)
{
    memset(x->b + x->n, 0, len);
    x->n += len;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return 1;
    return 0;
}

/* ---- a file written by hand ------------------------------------------------------ */

static void test_layout(void)
{
    /* a 21-byte "packet" (3 bytes of padding) with a 5-byte comment (3 of
     * padding), then 8 bytes with no comment (no options at all) */
    uint8_t pkt1[21], pkt2[8];
    for (size_t i = 0; i < sizeof pkt1; i++)
        pkt1[i] = (uint8_t)(0x45 + i);
    for (size_t i = 0; i < sizeof pkt2; i++)
        pkt2[i] = (uint8_t)(0xa0 + i);
    char err[256] = "";
    sf_pcap *pc = sf_pcap_open(FILE_NAME, err, sizeof err);
    CHECK(pc != NULL);
    if (!pc) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(sf_pcap_write(pc, 0x123456789aULL, pkt1, sizeof pkt1, "hello") == 0);
    CHECK(sf_pcap_write(pc, 7, pkt2, sizeof pkt2, NULL) == 0);
    CHECK(sf_pcap_count(pc) == 2);
    CHECK(sf_pcap_close(pc, err, sizeof err) == 0);

    static bytes want;
    /* Section Header Block */
    const char app[] = "synfin " SF_VERSION;
    size_t app_len = sizeof app - 1, app_pad = (4 - app_len % 4) % 4;
    uint32_t shb_len = (uint32_t)(24 + 4 + app_len + app_pad + 4 + 4);
    le32(&want, 0x0A0D0D0A);
    le32(&want, shb_len);
    raw(&want, "\x4d\x3c\x2b\x1a", 4); /* 0x1A2B3C4D, little-endian */
    le16(&want, 1);
    le16(&want, 0);
    le32(&want, 0xffffffff); /* section length -1 */
    le32(&want, 0xffffffff);
    le16(&want, 4); /* shb_userappl */
    le16(&want, (uint16_t)app_len);
    raw(&want, app, app_len);
    zeros(&want, app_pad);
    le32(&want, 0); /* opt_endofopt */
    le32(&want, shb_len);
    /* Interface Description Block: LINKTYPE_RAW, if_tsresol 6 */
    le32(&want, 1);
    le32(&want, 32);
    le16(&want, 101);
    le16(&want, 0);
    le32(&want, 262144);
    le16(&want, 9);
    le16(&want, 1);
    raw(&want, "\x06\0\0\0", 4);
    le32(&want, 0);
    le32(&want, 32);
    /* Enhanced Packet Block 1: 28 + 24 + (4 + 8) + 4 + 4 = 72 */
    le32(&want, 6);
    le32(&want, 72);
    le32(&want, 0);    /* interface */
    le32(&want, 0x12); /* timestamp, high then low */
    le32(&want, 0x3456789a);
    le32(&want, 21);
    le32(&want, 21);
    raw(&want, pkt1, sizeof pkt1);
    zeros(&want, 3);
    le16(&want, 1); /* opt_comment */
    le16(&want, 5);
    raw(&want, "hello\0\0\0", 8);
    le32(&want, 0);
    le32(&want, 72);
    /* Enhanced Packet Block 2: 28 + 8 + 4 = 40, no options */
    le32(&want, 6);
    le32(&want, 40);
    le32(&want, 0);
    le32(&want, 0);
    le32(&want, 7);
    le32(&want, 8);
    le32(&want, 8);
    raw(&want, pkt2, sizeof pkt2);
    le32(&want, 40);

    static uint8_t got[4096];
    size_t n = read_file(FILE_NAME, got, sizeof got);
    CHECK(n == want.n);
    CHECK(n == want.n && memcmp(got, want.b, n) == 0);
    for (size_t i = 0; i < n && i < want.n; i++) {
        if (got[i] != want.b[i]) {
            fprintf(stderr, "first difference at byte %zu: %02x, want %02x\n", i, got[i],
                    want.b[i]);
            break;
        }
    }
}

/* ---- a recording by the sim --------------------------------------------------- */

/* Walks the blocks: each length a multiple of 4, repeated at the block's
 * end, the blocks tiling the file. Returns the number of packet blocks, -1
 * if the file is malformed. */
static long walk(const uint8_t *f, size_t n)
{
    long packets = 0;
    size_t at = 0;
    while (at < n) {
        if (n - at < 12) return -1;
        uint32_t type = get32(f + at), len = get32(f + at + 4);
        if (len < 12 || len % 4 || len > n - at || get32(f + at + len - 4) != len) return -1;
        if (type == 6) packets++;
        at += len;
    }
    return packets;
}

static void test_sim(void)
{
    sf_sim *sim = sf_sim_new(3);
    sf_link link = {.latency = 5000, .loss = 0};
    sf_sim_set_link(sim, &link);
    sf_config cfg;
    sf_config_default(&cfg);
    int a = sf_sim_add_host(sim, (sf_addr[]){sf_addr_v4(0x0a000001u)}, 1, &cfg);
    int b = sf_sim_add_host(sim, (sf_addr[]){sf_addr_v4(0x0a000002u)}, 1, &cfg);
    char err[256] = "";
    CHECK(sf_sim_pcap_open(sim, FILE_NAME, err, sizeof err) == 0);
    int e;
    sf_listen(sf_sim_stack(sim, b), 0, 80, 0, NULL, &e);
    sf_sim_flush(sim, b);
    sf_connect(sf_sim_stack(sim, a), 0, NULL, sf_addr_v4(0x0a000002u), 80, 0, NULL, &e);
    sf_sim_flush(sim, a);
    /* the SYN and the SYN-ACK arrive; the last ACK is still on the wire */
    sf_sim_step(sim, 5000);
    sf_sim_step(sim, 10000);
    CHECK(sf_sim_trace(sim)->segs == 3);
    CHECK(sf_sim_pcap_close(sim, err, sizeof err) == 0);
    CHECK(sf_sim_pcap_close(sim, err, sizeof err) == 0); /* nothing open: fine */
    sf_sim_free(sim);

    static uint8_t got[65536];
    size_t n = read_file(FILE_NAME, got, sizeof got);
    CHECK(walk(got, n) == 3);
    /* the last packet written is the ACK in flight, with its comment */
    const char want[] = "synfin #3 10.0.0.1 > 10.0.0.2: in flight at the end";
    CHECK(contains(got, n, want));
}

static void test_open_fails(void)
{
    char err[256] = "";
    sf_pcap *pc = sf_pcap_open("/nonexistent-dir/x.pcapng", err, sizeof err);
    CHECK(pc == NULL);
    CHECK(strcmp(err, "cannot open /nonexistent-dir/x.pcapng: No such file or directory") == 0);
    CHECK(sf_pcap_close(NULL, err, sizeof err) == 0);
}

int main(void)
{
    test_layout();
    test_sim();
    test_open_fails();
    remove(FILE_NAME);
    return check_report("test_pcap");
}

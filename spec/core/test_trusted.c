/* Checksums a device vouched for (sf_sim_receive_trusted): a segment from
 * the outside whose TCP checksum field holds only the pseudo-header's
 * partial sum, as the local kernel's GSO leaves it, is taken as it is (no
 * host computes its checksum), while the same segment through
 * sf_sim_receive with a wrong checksum is dropped with its reason (RFC 9293
 * MUST-2, MUST-3). The pcap shows the trusted one with its checksum
 * completed: a recording never holds a partial checksum. */
#include "check.h"
#include "io/sim.h"

#include <stdio.h>
#include <string.h>

#define ADDR_B    sf_addr_v4(0x0a000002u) /* the host under test */
#define ADDR_P    sf_addr_v4(0x0a000003u) /* the outside world */
#define FILE_NAME "test_trusted.pcapng"
#define ISN_P     1000u

/* What host B sends to the outside. */
static uint8_t last_out[256];
static size_t last_out_len;

static void port_send(void *ud, const uint8_t *pkt, size_t len)
{
    (void)ud;
    if (len > sizeof last_out) return;
    memcpy(last_out, pkt, len);
    last_out_len = len;
}

static sf_seg from_p(uint8_t flags, uint32_t seq, uint32_t ack)
{
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = ADDR_P;
    s.daddr = ADDR_B;
    s.sport = 40000;
    s.dport = 80;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.wnd = 65535;
    s.wscale = -1;
    return s;
}

/* Every step due until `until`: an answer leaves at the next instant. */
static void run_until(sf_sim *sim, uint64_t until)
{
    for (int i = 0; i < 100 && sf_sim_step(sim, until); i++) {
    }
}

static size_t count_notes(sf_trace *t, sf_reason code)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        const sf_trace_rec *r = sf_trace_at(t, (long)i);
        n += r->kind == SF_TR_NOTE && r->reason == code;
    }
    return n;
}

static uint32_t get32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The packets of the pcap that carry `payload`: how many, and how many of
 * them have good checksums. */
static void scan_pcap(const char *payload, int *found, int *good)
{
    static uint8_t f[1 << 16];
    FILE *fp = fopen(FILE_NAME, "rb");
    size_t n = fp ? fread(f, 1, sizeof f, fp) : 0;
    if (fp) fclose(fp);
    *found = *good = 0;
    for (size_t at = 0; at + 12 <= n;) {
        uint32_t type = get32le(f + at), len = get32le(f + at + 4);
        if (len < 12 || len > n - at) break;
        if (type == 6 && len >= 28) { /* an Enhanced Packet Block */
            uint32_t caplen = get32le(f + at + 20);
            sf_seg s;
            const char *why;
            int rc = sf_wire_parse(f + at + 28, caplen, &s, &why);
            if ((rc == 0 || s.bad_csum) && s.len == strlen(payload) &&
                memcmp(s.payload, payload, s.len) == 0) {
                (*found)++;
                *good += rc == 0;
            }
        }
        at += len;
    }
}

static void test_trusted_and_verified(void)
{
    sf_sim *sim = sf_sim_new(5);
    sf_config cfg;
    sf_config_default(&cfg);
    int b = sf_sim_add_host(sim, (sf_addr[]){ADDR_B}, 1, &cfg);
    int p = sf_sim_add_host(sim, (sf_addr[]){ADDR_P}, 1, NULL);
    sf_sim_set_port(sim, p, port_send, NULL);
    char err[256] = "";
    CHECK(sf_sim_pcap_open(sim, FILE_NAME, err, sizeof err) == 0);
    int e;
    sf_conn *l = sf_listen(sf_sim_stack(sim, b), 0, 80, 0, NULL, &e);
    CHECK(l != NULL);

    /* the handshake, from the outside */
    uint8_t pkt[256];
    sf_seg syn = from_p(SF_SYN, ISN_P, 0);
    syn.mss = 1460;
    CHECK(sf_sim_receive(sim, pkt, (size_t)sf_wire_build(pkt, sizeof pkt, &syn)) == 0);
    run_until(sim, 1000);
    sf_seg sa;
    CHECK(sf_wire_parse(last_out, last_out_len, &sa, NULL) == 0 && sa.flags == (SF_SYN | SF_ACK));
    sf_seg ack = from_p(SF_ACK, ISN_P + 1, sa.seq + 1);
    CHECK(sf_sim_receive(sim, pkt, (size_t)sf_wire_build(pkt, sizeof pkt, &ack)) == 0);
    run_until(sim, 2000);
    sf_conn *c = sf_accept(l);
    CHECK(c != NULL && sf_conn_state(c) == SF_ESTABLISHED);
    if (!c) return;

    /* "hello" with a wrong checksum, from a wire that verifies nothing:
     * traced, and dropped by the host as corrupt */
    sf_seg data = from_p(SF_ACK | SF_PSH, ISN_P + 1, sa.seq + 1);
    data.payload = (const uint8_t *)"hello";
    data.len = 5;
    data.bad_csum = 1;
    size_t drops = count_notes(sf_sim_trace(sim), SF_R_BAD_CHECKSUM);
    int n = sf_wire_build(pkt, sizeof pkt, &data);
    CHECK(sf_sim_receive(sim, pkt, (size_t)n) == 0);
    run_until(sim, 3000);
    char buf[16];
    CHECK(sf_recv(c, 3000, buf, sizeof buf) == SF_EAGAIN);
    CHECK(count_notes(sf_sim_trace(sim), SF_R_BAD_CHECKSUM) == drops + 1);

    /* the same segment as the local kernel's GSO hands it: the checksum
     * field holds the pseudo-header's sum only, the device vouches for the
     * data: taken, and read */
    data.bad_csum = 0;
    n = sf_wire_build(pkt, sizeof pkt, &data);
    CHECK(sf_wire_fill_partial_tcp_checksum(pkt, (size_t)n) == 0);
    sf_seg check;
    CHECK(sf_wire_parse(pkt, (size_t)n, &check, NULL) != 0 && check.bad_csum); /* not a checksum */
    CHECK(sf_wire_parse_trusted(pkt, (size_t)n, &check, NULL) == 0 && !check.bad_csum);
    CHECK(check.len == 5 && memcmp(check.payload, "hello", 5) == 0);
    CHECK(sf_sim_receive_trusted(sim, pkt, (size_t)n) == 0);
    run_until(sim, 4000);
    CHECK(sf_recv(c, 4000, buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(count_notes(sf_sim_trace(sim), SF_R_BAD_CHECKSUM) == drops + 1); /* no new drop */

    /* the pcap has both: the corrupt one as it came, the trusted one with
     * its checksum completed */
    CHECK(sf_sim_pcap_close(sim, err, sizeof err) == 0);
    int found, good;
    scan_pcap("hello", &found, &good);
    CHECK(found == 2);
    CHECK(good == 1);
    sf_conn_release(c);
    sf_sim_free(sim);
    remove(FILE_NAME);
}

int main(void)
{
    test_trusted_and_verified();
    return check_report("trusted");
}

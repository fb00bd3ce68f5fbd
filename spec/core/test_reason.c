/* The reason table (core/reason.c): every code has a name, a text and a
 * rule, names are distinct, and the parser's *why maps back to its code. */
#include "check.h"
#include "synfin.h"

#include <string.h>

int main(void)
{
    for (int r = 1; r < SF_R_COUNT; r++) {
        const sf_reason_info *i = sf_reason_get((sf_reason)r);
        CHECK(i->name && i->name[0] && strcmp(i->name, "none") != 0);
        CHECK(i->text && i->text[0]);
        CHECK(i->ref && i->ref[0]);
        CHECK(sf_reason_of_text(i->text) == (sf_reason)r);
        for (int q = 1; q < r; q++)
            CHECK(strcmp(sf_reason_get((sf_reason)q)->name, i->name) != 0);
    }
    CHECK(sf_reason_get(SF_R_COUNT) == sf_reason_get(SF_R_NONE));

    /* a packet with a wrong checksum: the parser's reason is the table's */
    sf_seg s;
    memset(&s, 0, sizeof s);
    s.saddr = sf_addr_v4(0xc0000201u);
    s.daddr = sf_addr_v4(0xc0000202u);
    s.sport = 1;
    s.dport = 2;
    s.flags = SF_SYN;
    s.wscale = -1;
    s.bad_csum = 1;
    uint8_t buf[64];
    int len = sf_wire_build(buf, sizeof buf, &s);
    const char *why = NULL;
    CHECK(len > 0 && sf_wire_parse(buf, (size_t)len, &s, &why) != 0);
    CHECK(sf_reason_of_text(why) == SF_R_BAD_CHECKSUM);
    CHECK(!sf_reason_get(SF_R_PAWS)->note && sf_reason_get(SF_R_OOO_HELD)->note);
    return check_report("reason");
}

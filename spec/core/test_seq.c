/* Sequence arithmetic (RFC 9293 §3.4), wrap-around at 2^32 included. */
#include "check.h"
#include "seq.h"

int main(void)
{
    CHECK(sf_seq_lt(1, 2));
    CHECK(!sf_seq_lt(2, 2));
    CHECK(sf_seq_le(2, 2));
    CHECK(sf_seq_gt(3, 2));
    /* wrap: 0xffffffff is just before 0 */
    CHECK(sf_seq_lt(0xffffffffu, 0));
    CHECK(sf_seq_gt(5, 0xfffffff0u));
    CHECK(sf_seq_diff(3, 0xfffffffeu) == 5);
    CHECK(sf_seq_diff(0xfffffffeu, 3) == -5);
    /* the window test across the wrap */
    CHECK(sf_seq_in(0, 0xfffffff0u, 0x10));
    CHECK(sf_seq_in(0xfffffff0u, 0xfffffff0u, 0x10));
    CHECK(!sf_seq_in(0x10, 0xfffffff0u, 0x10));
    CHECK(!sf_seq_in(0xffffffefu, 0xfffffff0u, 0x10));
    CHECK(!sf_seq_in(5, 5, 5)); /* an empty window holds nothing */
    CHECK(sf_seq_max(0xffffffffu, 1) == 1);
    return check_report("seq");
}

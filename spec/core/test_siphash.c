/* SipHash-2-4 against the reference vectors of the SipHash paper (key
 * 00 01 .. 0f, messages 00 01 .. n-1), the PRF of the ISN function
 * (RFC 9293 §3.4.1, MUST-9, SHLD-1). */
#include "check.h"
#include "siphash.h"

int main(void)
{
    uint8_t key[16], msg[64];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    /* from the paper's Appendix A and the reference implementation's vectors */
    CHECK(sf_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
    CHECK(sf_siphash(key, msg, 1) == 0x74f839c593dc67fdULL);
    CHECK(sf_siphash(key, msg, 7) == 0xab0200f58b01d137ULL);
    CHECK(sf_siphash(key, msg, 8) == 0x93f5f5799a932462ULL);
    CHECK(sf_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
    /* another key, another value */
    key[0] ^= 1;
    CHECK(sf_siphash(key, msg, 15) != 0xa129ca6149be45e5ULL);
    return check_report("siphash");
}

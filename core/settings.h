/* settings.h - one description of each setting a script (or the CLI's
 * documentation) names: its name, its type, its range, where it applies,
 * where it lands in sf_config, and a line of doc. core/settings.c has the
 * table; the Lua binding's parser, the Lua layer's list of setting names and
 * the README's table (`synfin --settings`) are all made from it, so that
 * adding a setting is one row there (and its field in sf_config or
 * sf_policy). */
#ifndef SYNFIN_SETTINGS_H
#define SYNFIN_SETTINGS_H

#include "synfin.h"

#include <stddef.h>
#include <stdint.h>

/* The longest time a script may give, in seconds (about 31 years: its
 * microseconds fit a uint64 with room to add), settings or not. */
#define SF_TIME_MAX_S 1e9

/* What a setting's value is, as a script gives it. */
typedef enum {
    SF_SETTING_TIME,      /* seconds (a number); the field holds microseconds */
    SF_SETTING_INT,       /* an integer in lo..hi */
    SF_SETTING_BOOL,      /* true or false; the field holds 1 or 0 */
    SF_SETTING_CHOICE,    /* one of choices; the field holds its index */
    SF_SETTING_KEEPALIVE, /* a time, or true (two hours) or false (off) */
    SF_SETTING_SECRET,    /* the ISN key: 16 bytes, or an integer spread over them */
    SF_SETTING_ISN,       /* an integer in lo..hi: every ISS is it (sf_config.fixed_isn) */
    SF_SETTING_PROFILE,   /* a profile's name (sf_profile): applied before the others */
} sf_setting_type;

/* Where a setting applies (sf_setting.where, a mask). */
enum {
    SF_AT_HOST = 1,    /* net:host's settings: the stack's sf_config */
    SF_AT_LISTEN = 2,  /* host:listen's: the listener's policy, for what it accepts */
    SF_AT_CONNECT = 4, /* host:connect's: the connection's policy */
    SF_AT_SET = 8,     /* c:set: the connection's policy from now on */
    SF_AT_POLICY = SF_AT_HOST | SF_AT_LISTEN | SF_AT_CONNECT | SF_AT_SET,
    /* in the policy, but shaping the connection when it is made (buffers,
     * options offered on the SYN): c:set refuses to change it */
    SF_AT_MADE = SF_AT_HOST | SF_AT_LISTEN | SF_AT_CONNECT,
};

/* The places a setting may apply, by name ("host", "listen", "connect",
 * "c:set"), as the docs and synfin.core.settings() name them. */
typedef struct {
    unsigned bit; /* SF_AT_* */
    const char *name;
} sf_setting_place;
extern const sf_setting_place sf_setting_places[4];

typedef struct sf_setting sf_setting;

/* A rule of a setting's beyond its range: NULL when value (in the field's
 * unit: microseconds for a time) is allowed in cfg, else what is wrong, as
 * "must be below 0.5 s (MUST-40)". A function, so that a range can depend
 * on the rest of the configuration (an MTU on the address family). */
typedef const char *(*sf_setting_rule)(const sf_config *cfg, uint64_t value);

struct sf_setting {
    const char *name;
    sf_setting_type type;
    unsigned where; /* SF_AT_* */
    size_t offset;  /* of the field in sf_config (policy fields: policy.x) */
    uint8_t size;   /* of the field, bytes: 1, 2, 4 or 8 */
    /* the range: seconds for a time (lo is 0), integers for an integer */
    double lo, hi;
    const char *const *choices; /* a choice's (and a profile's) names, NULL-terminated */
    sf_setting_rule rule;       /* or NULL */
    const char *unit;           /* "s", "bytes", "segments", ... or "" */
    const char *doc;            /* one line, Markdown */
};

/* The table, in the order the docs list it; *n is set to its length. */
const sf_setting *sf_settings(size_t *n);
/* The setting called name, or NULL. */
const sf_setting *sf_setting_find(const char *name);
/* The setting's field in cfg, widened to 64 bits. */
uint64_t sf_setting_get(const sf_setting *s, const sf_config *cfg);
/* Sets the setting's field in cfg to value (microseconds for a time, 1 or 0
 * for a boolean, the index of a choice), the caller having checked its type
 * and range: NULL, or what its rule finds wrong (then cfg is unchanged).
 * An ISN also makes every ISS that ISN; a profile sets its policy values. */
const char *sf_setting_set(const sf_setting *s, sf_config *cfg, uint64_t value);
/* The value a boolean stands for in a boolean or keep-alive setting: 1 or
 * 0; keep-alive's true is the RFC's default idle time (MUST-28). */
uint64_t sf_setting_bool_value(const sf_setting *s, int on);
/* Checks the settings that must agree with each other: NULL, or what is
 * wrong ("setting 'rto_min' must be above 0 and at most rto_max"). */
const char *sf_policy_check(const sf_policy *p);

#endif

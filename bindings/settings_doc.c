/* settings_doc.c - `synfin --settings`: the table of settings
 * (core/settings.c) as the Markdown table the README shows, with each
 * setting's type and range, its default (sf_config_default: the linux
 * profile's where stacks differ), where it applies and its line of doc.
 * The ctest docs/settings fails when the README's copy differs. */
#include "settings_doc.h"

#include "../core/settings.h"

#include <inttypes.h>
#include <string.h>

/* "`a`, `b` or `c`" */
static void print_choices(FILE *out, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        fprintf(out, "%s`%s`", i == 0 ? "" : choices[i + 1] ? ", " : " or ", choices[i]);
}

static void print_kind(FILE *out, const sf_setting *s)
{
    switch (s->type) {
    case SF_SETTING_TIME: fprintf(out, "seconds, 0..%g", s->hi); break;
    case SF_SETTING_KEEPALIVE: fprintf(out, "seconds, 0..%g, or true or false", s->hi); break;
    case SF_SETTING_INT:
    case SF_SETTING_ISN:
        fprintf(out, "integer, %.0f..%.0f%s%s", s->lo, s->hi, *s->unit ? " " : "", s->unit);
        break;
    case SF_SETTING_BOOL: fputs("true or false", out); break;
    case SF_SETTING_CHOICE:
    case SF_SETTING_PROFILE: print_choices(out, s->choices); break;
    case SF_SETTING_SECRET: fputs("16 bytes, or an integer", out); break;
    }
}

static void print_default(FILE *out, const sf_setting *s, const sf_config *cfg)
{
    uint64_t v = sf_setting_get(s, cfg);
    switch (s->type) {
    case SF_SETTING_TIME: fprintf(out, "%g", (double)v / 1e6); break;
    case SF_SETTING_KEEPALIVE:
        if (v)
            fprintf(out, "%g", (double)v / 1e6);
        else
            fputs("off", out);
        break;
    case SF_SETTING_INT: fprintf(out, "%" PRIu64, v); break;
    case SF_SETTING_BOOL: fputs(v ? "true" : "false", out); break;
    case SF_SETTING_CHOICE: fprintf(out, "`%s`", s->choices[v]); break;
    case SF_SETTING_PROFILE: fprintf(out, "`%s`", s->choices[SF_PROFILE_LINUX]); break;
    case SF_SETTING_ISN:
    case SF_SETTING_SECRET: fputs("-", out); break;
    }
}

static void print_where(FILE *out, unsigned where)
{
    int n = 0;
    for (size_t i = 0; i < sizeof sf_setting_places / sizeof sf_setting_places[0]; i++)
        if (where & sf_setting_places[i].bit) {
            const char *name = sf_setting_places[i].name;
            /* a method as code, as the README writes it */
            fprintf(out, strchr(name, ':') ? "%s`%s`" : "%s%s", n++ ? ", " : "", name);
        }
}

void sf_settings_print_markdown(FILE *out)
{
    sf_config cfg;
    sf_config_default(&cfg);
    size_t n;
    const sf_setting *all = sf_settings(&n);
    fputs("| setting | value | default | where | what |\n|---|---|---|---|---|\n", out);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "| `%s` | ", all[i].name);
        print_kind(out, &all[i]);
        fputs(" | ", out);
        print_default(out, &all[i], &cfg);
        fputs(" | ", out);
        print_where(out, all[i].where);
        fprintf(out, " | %s |\n", all[i].doc);
    }
}

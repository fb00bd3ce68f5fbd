/* settings_doc.h - the table of settings as Markdown (`synfin --settings`). */
#ifndef SYNFIN_SETTINGS_DOC_H
#define SYNFIN_SETTINGS_DOC_H

#include <stdio.h>

/* Prints the README's table of settings to out: one row per setting of
 * core/settings.c, with its value's type and range, default, where it
 * applies and what it does. */
void sf_settings_print_markdown(FILE *out);

#endif

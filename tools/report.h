/* tools/report.h — the fidelity report of a dataset (lstar-format.md §4):
 * the upstream JSON shape and a readable text rendering, shared by
 * `lstar convert --report/--report-json` and `lstar inspect` on AnnData inputs.
 *
 * JSON (jansson, keys in the upstream order): source {path, format},
 * target {path, format} or null, kind, profiles, axes [{name, length, origin,
 * role, induced_by}], fields [{name, role, state, span, encoding, coverage,
 * nullable, subtype (only if set), index_axis (only if partial), provenance
 * (only if non-empty)}], dropped (the dataset's manifest: what the source
 * reader could not represent).  Callers append native_check and their
 * extras after these keys.
 *
 * Text: the axes and fields tables (role, state, encoding, span, shape,
 * notes, provenance) and the dropped list.  Only tools/ prints.
 */
#ifndef LSTAR_TOOLS_REPORT_H
#define LSTAR_TOOLS_REPORT_H
#include <jansson.h>
#include <stdio.h>

#include "lstar/lstar.h"

/* One side of a conversion. */
typedef struct report_side {
    const char *path;      /* as given on the command line */
    const char *format;    /* the upstream vocabulary: "anndata", "mudata", "store" */
    const char *container; /* what it is on disk, for people: "h5ad", "anndata-zarr v2",
                              "L★ store (Zarr v3)", … (may be NULL) */
} report_side;

/* The upstream report object (new reference; NULL when out of memory).
 * `target` NULL → "target": null. */
json_t *report_json(const lstar_dataset *ds, const report_side *source, const report_side *target);

/* The JSON array of a field list / string list helpers, exported for the extras. */
json_t *report_json_strings(const lstar_strings *s); /* NULL s → [] */

/* The notes column of a field: "partial over X, nullable, directed, …" ("-" when none).  Into buf. */
void report_field_notes(const lstar_field *f, char *buf, size_t size);
/* A provenance JSON object (new reference) when `text` holds a non-empty one, else NULL. */
json_t *report_provenance_json(const char *text);

/* "anndata=X, de_factor=louvain" from a provenance JSON object text ("-" when
 * empty); string values unquoted, others as compact JSON.  Into buf. */
char *report_provenance_text(const char *json_text, char *buf, size_t size);

/* Print the axes, fields and dropped sections (each preceded by a blank
 * line) on `out`: section titles prefixed by `indent`, table rows by
 * `indent` + two spaces.  `dropped_title` names the manifest ("dropped by
 * the source reader", "dropped").  Returns 0, or -1 when out of memory. */
int report_print_model(FILE *out, const lstar_dataset *ds, const char *dropped_title, const char *indent);

/* Print a list section "\n<title> (<n>)\n" then one "  <item>" line per item
 * (`items` NULL = empty). */
void report_print_strings(FILE *out, const char *title, const lstar_strings *items);

#endif

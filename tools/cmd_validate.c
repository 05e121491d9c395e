/* lstar validate — check an L★ store against the model invariants. */
#include <stdio.h>

#include "cli.h"

static const char usage[] =
    "usage: lstar validate PATH\n"
    "\n"
    "Read the L★ store at PATH (a directory or a .zip; Zarr v2 or v3) and check\n"
    "every invariant of the model (spans name known axes, shapes match axis\n"
    "lengths, categorical codes are in range, masks and partial-coverage\n"
    "indices are well formed, factor axes match their inducing labels, …).\n"
    "\n"
    "Each finding is printed on stdout as\n"
    "  error|warning <code> <where>: <message>\n"
    "followed by a summary line \"N errors, M warnings\".\n"
    "\n"
    "exit status: 0 no errors (warnings allowed), 1 errors found, 2 PATH could\n"
    "not be read.\n";

static int run(int argc, char **argv) {
    const char *pos[1];
    size_t npos = 0;
    int help = 0;
    if (cli_parse("validate", argc, argv, NULL, 0, pos, 1, &npos, &help)) return CLI_EXIT_ERROR;
    if (help) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (npos != 1) return cli_error("validate", NULL, "expected one PATH (see 'lstar help validate')");
    const char *path = pos[0];

    char why[256];
    cli_input_kind kind = cli_classify_input(path, why, sizeof why);
    if (kind == CLI_INPUT_MISSING) return cli_error("validate", path, "%s", why);
    if (kind == CLI_INPUT_HDF5)
        return cli_error("validate", path, "an HDF5 file, not an L★ store (validate reads L★ stores)");
    if (kind == CLI_INPUT_OTHER)
        return cli_error("validate", path, "not an L★ store (neither a directory nor a zip file)");

    lstar_error err = {0};
    lstar_store *store = NULL;
    lstar_dataset *ds = NULL;
    lstar_findings *findings = NULL;
    lstar_store *owned = NULL;
    int rc = CLI_EXIT_ERROR;
    if (lstar_store_open(path, LSTAR_STORE_READ, &store, &err) != LSTAR_OK) {
        rc = cli_error_lstar("validate", path, &err);
        goto done;
    }
    if (!lstar_store_is_lstar(store)) {
        rc = cli_error("validate", path, "not an L★ store (no \"lstar\" root attribute)");
        goto done;
    }
    owned = store;
    store = NULL; /* the dataset owns it from here, also on failure */
    if (lstar_dataset_read_store(owned, &ds, &err) != LSTAR_OK) {
        rc = cli_error_lstar("validate", path, &err);
        goto done;
    }
    if (lstar_dataset_validate(ds, &findings, &err) != LSTAR_OK) {
        rc = cli_error_lstar("validate", path, &err);
        goto done;
    }
    size_t n = lstar_findings_count(findings);
    for (size_t i = 0; i < n; i++) {
        const lstar_finding *f = lstar_findings_at(findings, i);
        printf("%s %s %s: %s\n", f->severity == LSTAR_SEVERITY_ERROR ? "error" : "warning", f->code,
               f->where ? f->where : "", f->message);
    }
    size_t ne = lstar_findings_errors(findings), nw = lstar_findings_warnings(findings);
    printf("%zu errors, %zu warnings\n", ne, nw);
    rc = ne ? CLI_EXIT_FINDINGS : CLI_EXIT_OK;
done:
    lstar_findings_free(findings);
    lstar_dataset_free(ds);
    lstar_store_close(store);
    return rc;
}

const cli_verb cli_verb_validate = {
    "validate",
    "check an L★ store against the model's invariants",
    usage,
    run,
};

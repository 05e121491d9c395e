/* inspect_store — list the axes and fields of an L★ store with the public lstar API.
 *
 *   inspect_store path/to/data.lstar.zarr
 */
#include <stdio.h>

#include <lstar/lstar.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s STORE\n", argv[0]);
        return 2;
    }
    lstar_error err;
    lstar_error_clear(&err);
    lstar_dataset *ds = NULL;
    if (lstar_dataset_read(argv[1], &ds, &err) != LSTAR_OK) {
        char msg[2048];
        fprintf(stderr, "%s: %s\n", argv[1], lstar_error_format(&err, msg, sizeof msg));
        return 2;
    }
    printf("lstar %s: %s dataset, spec %s\n", lstar_version(),
           lstar_dataset_kind(ds) == LSTAR_KIND_COLLECTION ? "collection" : "sample", lstar_dataset_spec_version(ds));
    for (size_t i = 0; i < lstar_dataset_axis_count(ds); i++) {
        const lstar_axis *a = lstar_dataset_axis_at(ds, i);
        printf("axis %s: %llu labels\n", lstar_axis_name(a), (unsigned long long)lstar_axis_length(a));
    }
    for (size_t i = 0; i < lstar_dataset_field_count(ds); i++) {
        const lstar_field *f = lstar_dataset_field_at(ds, i);
        const char *role = lstar_field_role(f);
        printf("field %s: %s, %s\n", lstar_field_name(f), role ? role : "-",
               lstar_encoding_name(lstar_field_encoding(f)));
    }
    lstar_dataset_free(ds);
    return 0;
}

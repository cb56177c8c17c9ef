/* pciplan from C: `assign [--caps CAPS.xml] [--host-pci HOST.tsv] DOMAIN.xml`
 * prints what `pciplan assign` prints, byte for byte (ffi/check.sh compares).
 *
 *   cargo build --release -p pciplan-ffi
 *   cc -std=c11 -Wall -Wextra -Iffi/include ffi/examples/assign.c \
 *      -Ltarget/release -lpciplan_ffi -o assign
 *   LD_LIBRARY_PATH=target/release ./assign examples/q35-virtio.xml
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pciplan.h"

/* The whole file as a NUL-terminated string, or NULL. */
static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            break;
        }
        if (len + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
    }
    return buf;
}

int main(int argc, char **argv) {
    const char *caps_path = NULL, *host_path = NULL, *domain_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--caps") == 0 && i + 1 < argc) {
            caps_path = argv[++i];
        } else if (strcmp(argv[i], "--host-pci") == 0 && i + 1 < argc) {
            host_path = argv[++i];
        } else {
            domain_path = argv[i];
        }
    }
    if (!domain_path) {
        fprintf(stderr, "usage: %s [--caps CAPS.xml] [--host-pci HOST.tsv] DOMAIN.xml\n", argv[0]);
        return 2;
    }
    char *caps = caps_path ? read_file(caps_path) : NULL;
    char *host = host_path ? read_file(host_path) : NULL;
    char *domain = read_file(domain_path);
    if (!domain || (caps_path && !caps) || (host_path && !host)) {
        fprintf(stderr, "error: cannot read the input files\n");
        free(caps);
        free(host);
        free(domain);
        return 2;
    }

    int rc = 0;
    char *out = NULL, *error = NULL;
    PciplanContext *ctx = NULL;
    PciplanStatus status = pciplan_context_new(caps, host, NULL, &ctx, &error);
    if (status != PCIPLAN_STATUS_OK) {
        fprintf(stderr, "error: %s\n", error);
        rc = 2;
        goto done;
    }
    status = pciplan_assign(ctx, domain, &out, &error);
    if (status == PCIPLAN_STATUS_OK) {
        fputs(out, stdout);
    } else {
        /* libvirt's class is the status; the message is libvirt's text. */
        fprintf(stderr, "error: %s\n", error);
        rc = status == PCIPLAN_STATUS_INVALID_ARGUMENT ? 2 : 1;
    }

done:
    pciplan_string_free(out);
    pciplan_string_free(error);
    pciplan_context_free(ctx);
    free(caps);
    free(host);
    free(domain);
    return rc;
}

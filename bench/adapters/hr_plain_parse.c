/* The baseline of bench/adapters/hr.sh: the same HR export decoded (iconv,
 * GB18030 -> UTF-8, 64 KiB blocks) and parsed by the same parser (libcsv), with
 * nothing else: no checks, no spool, no store. Prints "<records> <seconds>". */
#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t records;
static void on_field(void* s, size_t n, void* d) { (void)s; (void)n; (void)d; }
static void on_row(int c, void* d) { (void)c; (void)d; ++records; }

int main(int argc, char** argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s FILE.csv (GBK)\n", argv[0]); return 2; }
    FILE* in = fopen(argv[1], "rb");
    if (!in) { perror(argv[1]); return 1; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    struct csv_parser p;
    csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
    static char block[65536 + 8], out[4 * 65536 + 64];
    size_t carry = 0, got;
    do {
        got = fread(block + carry, 1, 65536, in);
        char* from = block;
        size_t left = carry + got;
        while (left > 0) {
            char* to = out;
            size_t room = sizeof out;
            size_t rc = iconv(cd, &from, &left, &to, &room);
            csv_parse(&p, out, (size_t)(to - out), on_field, on_row, NULL);
            if (rc != (size_t)-1 || errno != E2BIG) break;
        }
        carry = left;
        memmove(block, from, carry);
    } while (got > 0);
    csv_fini(&p, on_field, on_row, NULL);
    csv_free(&p);
    iconv_close(cd);
    fclose(in);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%zu %.6f\n", records, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

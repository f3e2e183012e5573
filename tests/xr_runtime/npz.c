/* npz.c - reads a vrgmi replay (.npz: a zip of .npy arrays, stored or deflated) with zlib
 * and looks up the sample held at a given XrTime. See docs/replay-format.md. */
#include "xrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

typedef struct {
    char name[64];
    int ndim, used;
    size_t shape[3], count;
    double *data;
} Array;

typedef struct {
    Array *arrays;
    int count;
} Storage;

static uint32_t u16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t u32(const uint8_t *p) { return u16(p) | u16(p + 2) << 16; }
static uint64_t u64(const uint8_t *p) { return u32(p) | (uint64_t)u32(p + 4) << 32; }

/* The value text after `'key':` in a .npy header dict, or NULL. */
static const char *dict_value(const char *header, const char *key) {
    const char *p = strstr(header, key);
    if (!p) return NULL;
    p = strchr(p + strlen(key), ':');
    if (!p) return NULL;
    for (p++; *p == ' '; p++) {}
    return p;
}

/* Parses one .npy file into `a` (data converted to double). Returns 0 or -1 with err. */
static int parse_npy(const uint8_t *b, size_t len, Array *a, char *err, size_t errlen) {
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        snprintf(err, errlen, "not a .npy array");
        return -1;
    }
    size_t hlen = b[6] == 1 ? u16(b + 8) : u32(b + 8), start = b[6] == 1 ? 10 : 12;
    if (start + hlen > len || hlen > 4096) {
        snprintf(err, errlen, "truncated .npy header");
        return -1;
    }
    char header[4097];
    memcpy(header, b + start, hlen);
    header[hlen] = 0;
    const char *descr = dict_value(header, "'descr'"), *order =
        dict_value(header, "'fortran_order'"), *shape = dict_value(header, "'shape'");
    if (!descr || !order || !shape || *descr != '\'' || *shape != '(') {
        snprintf(err, errlen, "unreadable .npy header");
        return -1;
    }
    if (strncmp(order, "False", 5) != 0) {
        snprintf(err, errlen, "Fortran-ordered arrays are not supported");
        return -1;
    }
    size_t item;
    char kind;
    if (!strncmp(descr, "'<f8'", 5)) item = 8, kind = 'f';
    else if (!strncmp(descr, "'<f4'", 5)) item = 4, kind = 'f';
    else if (!strncmp(descr, "'|b1'", 5)) item = 1, kind = 'b';
    else {
        snprintf(err, errlen, "dtype %.8s is not float32, float64 or bool", descr);
        return -1;
    }
    a->ndim = 0;
    a->count = 1;
    for (const char *p = shape + 1; *p && *p != ')';) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) { p++; continue; } /* ',' and ' ' */
        if (a->ndim == 3) {
            snprintf(err, errlen, "more than 3 dimensions");
            return -1;
        }
        a->shape[a->ndim++] = (size_t)v;
        a->count *= (size_t)v;
        p = end;
    }
    if (start + hlen + a->count * item > len) {
        snprintf(err, errlen, "truncated .npy data");
        return -1;
    }
    a->data = malloc((a->count ? a->count : 1) * sizeof(double));
    const uint8_t *d = b + start + hlen;
    for (size_t i = 0; i < a->count; i++) {
        if (kind == 'b') {
            a->data[i] = d[i] != 0;
        } else if (item == 4) {
            float f;
            memcpy(&f, d + 4 * i, 4);
            a->data[i] = f;
        } else {
            memcpy(&a->data[i], d + 8 * i, 8);
        }
    }
    return 0;
}

/* Decompresses (method 8, raw deflate) or copies (method 0) one zip member. */
static uint8_t *member_data(const uint8_t *src, size_t csize, size_t usize, unsigned method) {
    uint8_t *out = malloc(usize ? usize : 1);
    if (method == 0 && csize == usize) {
        memcpy(out, src, usize);
        return out;
    }
    z_stream z = {0};
    if (method != 8 || inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        free(out);
        return NULL;
    }
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)csize;
    z.next_out = out;
    z.avail_out = (uInt)usize;
    int rc = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.total_out != usize) {
        free(out);
        return NULL;
    }
    return out;
}

/* Reads every member of the zip in `b` through its central directory. */
static int read_zip(const uint8_t *b, size_t len, Storage *st, char *err, size_t errlen) {
    size_t eocd = SIZE_MAX; /* end of central directory: the last 22..65557 bytes */
    for (size_t i = len < 22 ? 0 : len - 21; i-- > 0 && len - i <= 22 + 65535;)
        if (u32(b + i) == 0x06054b50) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX) {
        snprintf(err, errlen, "not a zip archive");
        return -1;
    }
    uint64_t entries = u16(b + eocd + 10), cd = u32(b + eocd + 16);
    if (cd == 0xFFFFFFFFu && eocd >= 20 && u32(b + eocd - 20) == 0x07064b50) {
        uint64_t z64 = u64(b + eocd - 12); /* zip64 end of central directory record */
        if (z64 + 56 > len) goto bad;
        entries = u64(b + z64 + 32);
        cd = u64(b + z64 + 48);
    }
    st->arrays = calloc(entries ? entries : 1, sizeof(Array));
    for (uint64_t e = 0; e < entries; e++) {
        if (cd + 46 > len || u32(b + cd) != 0x02014b50) goto bad;
        unsigned method = u16(b + cd + 10), nlen = u16(b + cd + 28), xlen = u16(b + cd + 30);
        uint64_t csize = u32(b + cd + 20), usize = u32(b + cd + 24), off = u32(b + cd + 42);
        if (cd + 46 + nlen + xlen > len) goto bad;
        /* zip64 extra field: 64-bit values for the fields saturated above, in order */
        for (const uint8_t *x = b + cd + 46 + nlen, *xe = x + xlen; x + 4 <= xe;
             x += 4 + u16(x + 2)) {
            if (u16(x) != 1) continue;
            const uint8_t *v = x + 4;
            if (usize == 0xFFFFFFFFu) usize = u64(v), v += 8;
            if (csize == 0xFFFFFFFFu) csize = u64(v), v += 8;
            if (off == 0xFFFFFFFFu) off = u64(v);
        }
        Array *a = &st->arrays[st->count];
        if (nlen < 5 || nlen - 4 >= sizeof a->name || memcmp(b + cd + 46 + nlen - 4, ".npy", 4)) {
            snprintf(err, errlen, "member %.*s is not a .npy array", (int)nlen, b + cd + 46);
            return -1;
        }
        memcpy(a->name, b + cd + 46, nlen - 4);
        a->name[nlen - 4] = 0;
        if (off + 30 > len || u32(b + off) != 0x04034b50) goto bad;
        uint64_t data = off + 30 + u16(b + off + 26) + u16(b + off + 28);
        if (data + csize > len) goto bad;
        uint8_t *raw = member_data(b + data, csize, usize, method);
        if (!raw) {
            snprintf(err, errlen, "member %s: cannot decompress", a->name);
            return -1;
        }
        char why[160];
        int rc = parse_npy(raw, usize, a, why, sizeof why);
        free(raw);
        if (rc) {
            snprintf(err, errlen, "key '%s': %s", a->name, why);
            return -1;
        }
        st->count++;
        cd += 46 + nlen + xlen + u16(b + cd + 32);
    }
    return 0;
bad:
    snprintf(err, errlen, "corrupt zip archive");
    return -1;
}

/* The array named `key` with `ndim` dims (-1/0 entries of `shape`: N / don't care). */
static double *take(Storage *st, const char *key, int n, int d1, int d2, char *err,
                    size_t errlen, int *failed) {
    for (int i = 0; i < st->count; i++) {
        Array *a = &st->arrays[i];
        if (strcmp(a->name, key) != 0) continue;
        int ndim = 1 + (d1 > 0) + (d2 > 0);
        if (a->ndim != ndim || (int)a->shape[0] != n || (d1 > 0 && (int)a->shape[1] != d1) ||
            (d2 > 0 && (int)a->shape[2] != d2)) {
            snprintf(err, errlen, "key '%s' must have shape (%d%s%s), got %d dims", key, n,
                     d1 > 0 ? ", ..." : "", d2 > 0 ? ", ..." : "", a->ndim);
            *failed = 1;
            return NULL;
        }
        a->used = 1;
        return a->data;
    }
    return NULL;
}

int replay_load(const char *path, Replay *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot be opened", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    size_t got = fread(b, 1, len > 0 ? (size_t)len : 0, f);
    fclose(f);
    Storage *st = calloc(1, sizeof *st);
    out->storage = st;
    char why[400];
    int rc = got == (size_t)len ? read_zip(b, got, st, why, sizeof why) : -1;
    free(b);
    if (rc) {
        snprintf(err, errlen, "%s: %s", path, got == (size_t)len ? why : "read error");
        replay_free(out);
        return -1;
    }
    int failed = 0, n = -1;
    for (int i = 0; i < st->count; i++)
        if (!strcmp(st->arrays[i].name, "t") && st->arrays[i].ndim == 1)
            n = (int)st->arrays[i].shape[0];
    if (n < 1) {
        snprintf(err, errlen, "%s: key 't' is missing or empty", path);
        replay_free(out);
        return -1;
    }
    out->n = n;
    out->t = take(st, "t", n, 0, 0, why, sizeof why, &failed);
    out->head = take(st, "head", n, 7, 0, why, sizeof why, &failed);
    static const char *const side[2] = {"left", "right"};
    char key[64];
    for (int s = 0; s < 2; s++) {
#define TAKE(field, suffix, d1, d2)                                                      \
    (snprintf(key, sizeof key, "%s_" suffix, side[s]),                                   \
     out->field[s] = take(st, key, n, d1, d2, why, sizeof why, &failed))
        TAKE(grip, "grip", 7, 0);
        TAKE(valid, "valid", 0, 0);
        TAKE(aim, "aim", 7, 0);
        TAKE(trigger, "trigger", 0, 0);
        TAKE(squeeze, "squeeze", 0, 0);
        TAKE(joints, "hand_joints", XRT_JOINTS, 7);
        TAKE(hand_valid, "hand_valid", 0, 0);
#undef TAKE
        if (!out->grip[s] || !out->valid[s]) {
            if (!failed) snprintf(why, sizeof why, "required key '%s_grip' or '%s_valid' is "
                                  "missing", side[s], side[s]);
            failed = 1;
        }
        if (!out->joints[s] != !out->hand_valid[s] && !failed) {
            snprintf(why, sizeof why, "'%s_hand_joints' and '%s_hand_valid' go together",
                     side[s], side[s]);
            failed = 1;
        }
    }
    for (int r = 0; r < XRT_ROLES; r++) {
        snprintf(key, sizeof key, "tracker_%s", xrt_roles[r]);
        out->tracker[r] = take(st, key, n, 7, 0, why, sizeof why, &failed);
        snprintf(key, sizeof key, "tracker_%s_valid", xrt_roles[r]);
        out->tracker_valid[r] = take(st, key, n, 0, 0, why, sizeof why, &failed);
        if (!out->tracker[r] != !out->tracker_valid[r] && !failed) {
            snprintf(why, sizeof why, "'tracker_%s' and its '_valid' flags go together",
                     xrt_roles[r]);
            failed = 1;
        }
    }
    if (!out->head && !failed) snprintf(why, sizeof why, "required key 'head' is missing");
    failed |= !out->head;
    for (int i = 0; i < st->count && !failed; i++)
        if (!st->arrays[i].used) {
            snprintf(why, sizeof why, "key '%s' is not part of the replay format",
                     st->arrays[i].name);
            failed = 1;
        }
    if (failed) {
        snprintf(err, errlen, "%s: %s", path, why);
        replay_free(out);
        return -1;
    }
    out->duration = n < 2 ? 0.0 : (out->t[n - 1] - out->t[0]) * n / (n - 1);
    return 0;
}

void replay_free(Replay *r) {
    Storage *st = r->storage;
    if (st) {
        for (int i = 0; i < st->count; i++) free(st->arrays[i].data);
        free(st->arrays);
        free(st);
    }
    memset(r, 0, sizeof *r);
}

/* Sample and hold, looping, like vrgmi.tracking.replay.ReplaySource: replay time is
 * (time - XRT_START_NS) seconds after t[0], plus 1 us of slack against rounding. */
int replay_index(const Replay *r, XrTime time) {
    if (!r->n) return -1;
    double tau = (double)(time - XRT_START_NS) * 1e-9 + 1e-6;
    if (r->duration > 0) {
        tau = fmod(tau, r->duration);
        if (tau < 0) tau += r->duration;
    }
    int lo = 0, hi = r->n - 1; /* last i with t[i] - t[0] <= tau */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (r->t[mid] - r->t[0] <= tau) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

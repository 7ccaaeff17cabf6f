/*
 * The compiled decoder for the common case: the text of a CloudTrail log file, {"Records": [...]}, parsed
 * straight into the buffers of Arrow arrays (validity bitmaps, int32 offsets, UTF-8 data, bit-packed
 * booleans, int64 microsecond timestamps), one column per field of the record description it is given.
 *
 * It takes a file only whole and only when the file is plainly clean; anything else (an unknown,
 * duplicate or escaped key, a value of another type than the field's, invalid JSON or UTF-8, a lone UTF-16
 * surrogate escape, nesting deeper than MAX_DEPTH, a missing required field, an eventTime not written as
 * CloudTrail writes it) makes Builder.add return -1 with every buffer rolled back to where it was, and the
 * caller reads that file with the Python decoder. Declining is always safe; accepting must give exactly what
 * the Python decoder gives, so every rule here errs towards declining.
 *
 * Safety: every read is bounded by the end of the input (cursor checks before each dereference), every
 * write goes through buf_reserve (overflow-checked growth), and recursion is bounded by MAX_DEPTH.
 *
 * Beside it, Seen: the set of eventIDs a worker has written in a task, so that it can leave out later
 * copies of an event before writing them (see copies.py); it reads Arrow string buffers, checked first.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { K_STRING = 0, K_BOOL = 1, K_RAW = 2, K_STRUCT = 3, K_LIST = 4, K_TIME = 5 };

/* Outcome of every parsing step: go on, give the file back to the Python decoder, or out of memory. */
enum { OK = 0, DECLINE = 1, NOMEM = 2 };

#define TRY(expr)              \
    do {                       \
        int _r = (expr);       \
        if (_r != OK) return _r; \
    } while (0)

/* Nesting accepted inside a record (the Python decoder would take deeper blobs; they are rare). */
#define MAX_DEPTH 256
/* Structs have at most this many fields: the set of fields seen in one object is one 64-bit mask. */
#define MAX_FIELDS 64
/* Arrow string and list offsets are int32. */
#define MAX_OFFSET 0x7fffffff

typedef struct {
    uint8_t *data;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (extra > SIZE_MAX / 4 - b->len) return NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap) return OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    uint8_t *grown = realloc(b->data, cap);
    if (grown == NULL) return NOMEM;
    b->data = grown;
    b->cap = cap;
    return OK;
}

static int buf_append(Buf *b, const void *src, size_t n) {
    TRY(buf_reserve(b, n));
    if (n) memcpy(b->data + b->len, src, n);
    b->len += n;
    return OK;
}

/* Set bit `index` of a bitmap to `value`, growing it; bytes are rewritten whole, so stale bits left by a
 * rollback never survive. */
static int bit_put(Buf *b, Py_ssize_t index, int value) {
    size_t byte = (size_t)index >> 3;
    if (byte >= b->len) {
        TRY(buf_reserve(b, byte + 1 - b->len));
        memset(b->data + b->len, 0, byte + 1 - b->len);
        b->len = byte + 1;
    }
    uint8_t mask = (uint8_t)(1u << (index & 7));
    if (value)
        b->data[byte] |= mask;
    else
        b->data[byte] &= (uint8_t)~mask;
    return OK;
}

typedef struct Node {
    int kind;
    int required;
    char *name;
    size_t name_len;
    struct Node *children; /* struct: its fields; list: one struct node, the items */
    int nchildren;
    Py_ssize_t length, nulls;
    Buf validity;
    Buf offsets; /* int32, length + 1 of them (strings, raw blobs, lists) */
    Buf values;  /* string bytes, boolean bits, int64 timestamps */
    /* the state at the start of the file being added, to roll back to */
    Py_ssize_t mark_length, mark_nulls;
    size_t mark_validity, mark_offsets, mark_values;
} Node;

static int has_offsets(const Node *n) { return n->kind == K_STRING || n->kind == K_RAW || n->kind == K_LIST; }

static int node_reset(Node *n) {
    n->length = n->nulls = 0;
    n->validity.len = n->values.len = n->offsets.len = 0;
    if (has_offsets(n)) {
        int32_t zero = 0;
        TRY(buf_append(&n->offsets, &zero, sizeof zero));
    }
    for (int i = 0; i < n->nchildren; i++) TRY(node_reset(&n->children[i]));
    return OK;
}

static void node_mark(Node *n) {
    n->mark_length = n->length;
    n->mark_nulls = n->nulls;
    n->mark_validity = n->validity.len;
    n->mark_offsets = n->offsets.len;
    n->mark_values = n->values.len;
    for (int i = 0; i < n->nchildren; i++) node_mark(&n->children[i]);
}

static void node_rollback(Node *n) {
    n->length = n->mark_length;
    n->nulls = n->mark_nulls;
    n->validity.len = n->mark_validity;
    n->offsets.len = n->mark_offsets;
    n->values.len = n->mark_values;
    for (int i = 0; i < n->nchildren; i++) node_rollback(&n->children[i]);
}

static void node_free(Node *n) {
    for (int i = 0; i < n->nchildren; i++) node_free(&n->children[i]);
    PyMem_Free(n->children);
    PyMem_Free(n->name);
    free(n->validity.data);
    free(n->offsets.data);
    free(n->values.data);
    memset(n, 0, sizeof *n);
}

static int push_offset(Node *n, size_t end) {
    if (end > MAX_OFFSET) return DECLINE;
    int32_t offset = (int32_t)end;
    return buf_append(&n->offsets, &offset, sizeof offset);
}

static int list_end(const Node *n) { return n->children[0].length; }

/* One null row in `n` (and in every child of a struct, whose arrays must keep its length). */
static int append_null(Node *n) {
    TRY(bit_put(&n->validity, n->length, 0));
    switch (n->kind) {
        case K_STRING:
        case K_RAW:
            TRY(push_offset(n, n->values.len));
            break;
        case K_BOOL:
            TRY(bit_put(&n->values, n->length, 0));
            break;
        case K_TIME: {
            int64_t zero = 0;
            TRY(buf_append(&n->values, &zero, sizeof zero));
            break;
        }
        case K_STRUCT:
            for (int i = 0; i < n->nchildren; i++) TRY(append_null(&n->children[i]));
            break;
        case K_LIST:
            TRY(push_offset(n, (size_t)list_end(n)));
            break;
    }
    n->nulls++;
    n->length++;
    return OK;
}

static int mark_valid(Node *n) {
    TRY(bit_put(&n->validity, n->length, 1));
    n->length++;
    return OK;
}

/* --- JSON scanning ------------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} Cursor;

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

/* The byte under the cursor, or 0 at the end (0 is never valid JSON outside strings). */
static inline uint8_t peek(const Cursor *c) { return c->p < c->end ? *c->p : 0; }

/* The byte under the cursor, moving past it; 0 at the end (where the cursor stays). */
static inline uint8_t take(Cursor *c) { return c->p < c->end ? *c->p++ : 0; }

static int expect(Cursor *c, uint8_t ch) {
    skip_ws(c);
    if (peek(c) != ch) return DECLINE;
    c->p++;
    return OK;
}

static int literal(Cursor *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return DECLINE;
    c->p += n;
    return OK;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0 when invalid: overlong forms,
 * UTF-16 surrogates and code points over U+10FFFF are invalid, as in Python's own decoder. */
static size_t utf8_sequence(const uint8_t *p, const uint8_t *end) {
    uint8_t lead = p[0];
    size_t left = (size_t)(end - p);
    if (lead < 0xC2) return 0;
    if (lead < 0xE0) return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (lead < 0xF0) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (lead == 0xE0 && p[1] < 0xA0) return 0;
        if (lead == 0xED && p[1] >= 0xA0) return 0;
        return 3;
    }
    if (lead < 0xF5) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
        if (lead == 0xF0 && p[1] < 0x90) return 0;
        if (lead == 0xF4 && p[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

static int hex_value(uint8_t ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The code unit of a \uXXXX escape whose 'u' is at p (with at least 5 bytes from p), or -1. */
static long hex4(const uint8_t *p) {
    long value = 0;
    for (int i = 1; i <= 4; i++) {
        int digit = hex_value(p[i]);
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

typedef struct {
    const uint8_t *start;
    size_t len;
    int escaped;
} Span;

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Nonzero when a byte of the 8-byte word is zero (exact as a test of the whole word). */
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGHS)

/* Past the run of plain string bytes at p (printable ASCII other than the quote and the backslash), eight
 * bytes at a time; the bytewise loop of scan_string then looks at whatever stopped it. */
static inline const uint8_t *plain_run(const uint8_t *p, const uint8_t *end) {
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t special = HAS_ZERO(w ^ (ONES * '"')) | HAS_ZERO(w ^ (ONES * '\\')) |
                           ((w - ONES * 0x20) & ~w & HIGHS) | (w & HIGHS);
        if (special) break;
        p += 8;
    }
    return p;
}

/* Validate the string at the cursor (on its opening quote) and give the span between its quotes. */
static int scan_string(Cursor *c, Span *out) {
    if (peek(c) != '"') return DECLINE;
    const uint8_t *p = c->p + 1, *end = c->end;
    int escaped = 0;
    for (;;) {
        p = plain_run(p, end);
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') p++;
        if (p >= end) return DECLINE;
        uint8_t ch = *p;
        if (ch == '"') break;
        if (ch < 0x20) return DECLINE;
        if (ch == '\\') {
            escaped = 1;
            if (end - p < 2) return DECLINE;
            uint8_t kind = p[1];
            if (kind == 'u') {
                if (end - p < 6) return DECLINE;
                long unit = hex4(p + 1);
                if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return DECLINE;
                p += 6;
                if (unit >= 0xD800 && unit <= 0xDBFF) { /* must be followed by its low surrogate */
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return DECLINE;
                    long low = hex4(p + 1);
                    if (low < 0xDC00 || low > 0xDFFF) return DECLINE;
                    p += 6;
                }
            } else if (kind == '"' || kind == '\\' || kind == '/' || kind == 'b' || kind == 'f' ||
                       kind == 'n' || kind == 'r' || kind == 't') {
                p += 2;
            } else {
                return DECLINE;
            }
            continue;
        }
        size_t n = utf8_sequence(p, end);
        if (n == 0) return DECLINE;
        p += n;
    }
    out->start = c->p + 1;
    out->len = (size_t)(p - out->start);
    out->escaped = escaped;
    c->p = p + 1;
    return OK;
}

static size_t put_utf8(uint8_t *out, unsigned long code) {
    if (code < 0x80) {
        out[0] = (uint8_t)code;
        return 1;
    }
    if (code < 0x800) {
        out[0] = (uint8_t)(0xC0 | (code >> 6));
        out[1] = (uint8_t)(0x80 | (code & 0x3F));
        return 2;
    }
    if (code < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (code >> 12));
        out[1] = (uint8_t)(0x80 | ((code >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (code & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (code >> 18));
    out[1] = (uint8_t)(0x80 | ((code >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((code >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (code & 0x3F));
    return 4;
}

/* Append the decoded text of an escaped string span (already validated by scan_string). The text is
 * never longer than the span: an escape of 2, 6 or 12 bytes gives 1 to 4 bytes. */
static int append_unescaped(Buf *b, const Span *s, size_t *written) {
    TRY(buf_reserve(b, s->len));
    uint8_t *out = b->data + b->len, *begin = out;
    const uint8_t *p = s->start, *end = s->start + s->len;
    while (p < end) {
        if (*p != '\\') {
            *out++ = *p++;
            continue;
        }
        uint8_t kind = p[1];
        switch (kind) {
            case 'b': *out++ = '\b'; p += 2; break;
            case 'f': *out++ = '\f'; p += 2; break;
            case 'n': *out++ = '\n'; p += 2; break;
            case 'r': *out++ = '\r'; p += 2; break;
            case 't': *out++ = '\t'; p += 2; break;
            case 'u': {
                unsigned long code = (unsigned long)hex4(p + 1);
                p += 6;
                if (code >= 0xD800 && code <= 0xDBFF) {
                    unsigned long low = (unsigned long)hex4(p + 1);
                    p += 6;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                }
                out += put_utf8(out, code);
                break;
            }
            default: *out++ = kind; p += 2; break; /* " \ / */
        }
    }
    *written = (size_t)(out - begin);
    b->len += *written;
    return OK;
}

static int scan_number(Cursor *c) {
    const uint8_t *p = c->p, *end = c->end;
#define DIGIT(q) ((q) < end && *(q) >= '0' && *(q) <= '9')
    if (p < end && *p == '-') p++;
    if (p < end && *p == '0')
        p++;
    else if (DIGIT(p))
        while (DIGIT(p)) p++;
    else
        return DECLINE;
    if (p < end && *p == '.') {
        p++;
        if (!DIGIT(p)) return DECLINE;
        while (DIGIT(p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!DIGIT(p)) return DECLINE;
        while (DIGIT(p)) p++;
    }
#undef DIGIT
    c->p = p;
    return OK;
}

/* Validate any JSON value at the cursor (after whitespace) and move past it. */
static int skip_value(Cursor *c, int depth) {
    skip_ws(c);
    Span ignored;
    switch (peek(c)) {
        case '"':
            return scan_string(c, &ignored);
        case 't':
            return literal(c, "true", 4);
        case 'f':
            return literal(c, "false", 5);
        case 'n':
            return literal(c, "null", 4);
        case '{':
            if (depth >= MAX_DEPTH) return DECLINE;
            c->p++;
            skip_ws(c);
            if (peek(c) == '}') {
                c->p++;
                return OK;
            }
            for (;;) {
                skip_ws(c);
                TRY(scan_string(c, &ignored));
                TRY(expect(c, ':'));
                TRY(skip_value(c, depth + 1));
                skip_ws(c);
                uint8_t next = take(c);
                if (next == '}') return OK;
                if (next != ',') return DECLINE;
            }
        case '[':
            if (depth >= MAX_DEPTH) return DECLINE;
            c->p++;
            skip_ws(c);
            if (peek(c) == ']') {
                c->p++;
                return OK;
            }
            for (;;) {
                TRY(skip_value(c, depth + 1));
                skip_ws(c);
                uint8_t next = take(c);
                if (next == ']') return OK;
                if (next != ',') return DECLINE;
            }
        default:
            return scan_number(c);
    }
}

/* --- eventTime ---------------------------------------------------------------------------------------- */

static int digits(const uint8_t *p, int n, int *out) {
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return DECLINE;
        value = value * 10 + (p[i] - '0');
    }
    *out = value;
    return OK;
}

/* Days from 1970-01-01 to a proleptic Gregorian date: whole 400-year eras of 146097 days, then the years,
 * the days of the year counted from March (so that the leap day comes last) and the day. */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SSZ", the only form CloudTrail writes, as microseconds since the epoch (UTC). Any other
 * form is declined: the Python decoder's more lenient parsing and its rejections then apply. */
static int parse_time(const Span *s, int64_t *out) {
    const uint8_t *p = s->start;
    int year, month, day, hour, minute, second;
    if (s->escaped || s->len != 20 || p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' ||
        p[16] != ':' || p[19] != 'Z')
        return DECLINE;
    TRY(digits(p, 4, &year));
    TRY(digits(p + 5, 2, &month));
    TRY(digits(p + 8, 2, &day));
    TRY(digits(p + 11, 2, &hour));
    TRY(digits(p + 14, 2, &minute));
    TRY(digits(p + 17, 2, &second));
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1900 || month < 1 || month > 12 || day < 1 ||
        day > month_days[month - 1] + (month == 2 && leap) || hour > 23 || minute > 59 || second > 59)
        return DECLINE;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *out = seconds * 1000000;
    return OK;
}

/* --- records ------------------------------------------------------------------------------------------ */

static int parse_object(Cursor *c, Node *st, int depth);

static int is_null(Cursor *c) {
    if (peek(c) != 'n') return 0;
    return literal(c, "null", 4) == OK ? 1 : -1;
}

/* One field's value into its node. `in_record`: the field is a record's own (not nested deeper). */
static int parse_field(Cursor *c, Node *f, int depth, int in_record) {
    skip_ws(c);
    int null = is_null(c);
    if (null < 0) return DECLINE;
    if (null) {
        /* A null nested struct inside a struct sends the Python decoder down a path that re-encodes the
         * struct's blobs: decline it. A record's own null fields are plain nulls. */
        if (f->required || (f->kind == K_STRUCT && !in_record)) return DECLINE;
        return append_null(f);
    }
    Span s;
    switch (f->kind) {
        case K_STRING: {
            TRY(scan_string(c, &s));
            size_t n = s.len;
            if (s.escaped)
                TRY(append_unescaped(&f->values, &s, &n));
            else
                TRY(buf_append(&f->values, s.start, s.len));
            if (f->required && n == 0) return DECLINE;
            TRY(push_offset(f, f->values.len));
            return mark_valid(f);
        }
        case K_TIME: {
            int64_t micros;
            TRY(scan_string(c, &s));
            TRY(parse_time(&s, &micros));
            TRY(buf_append(&f->values, &micros, sizeof micros));
            return mark_valid(f);
        }
        case K_BOOL: {
            int value;
            if (peek(c) == 't') {
                TRY(literal(c, "true", 4));
                value = 1;
            } else {
                TRY(literal(c, "false", 5));
                value = 0;
            }
            TRY(bit_put(&f->values, f->length, value));
            return mark_valid(f);
        }
        case K_RAW: {
            const uint8_t *start = c->p;
            TRY(skip_value(c, depth));
            TRY(buf_append(&f->values, start, (size_t)(c->p - start)));
            TRY(push_offset(f, f->values.len));
            return mark_valid(f);
        }
        case K_STRUCT:
            if (peek(c) != '{') return DECLINE;
            TRY(parse_object(c, f, depth + 1));
            return mark_valid(f);
        case K_LIST: {
            Node *item = &f->children[0];
            TRY(expect(c, '['));
            skip_ws(c);
            if (peek(c) == ']') {
                c->p++;
            } else {
                if (depth + 1 >= MAX_DEPTH) return DECLINE;
                for (;;) {
                    skip_ws(c);
                    if (peek(c) != '{') return DECLINE;
                    TRY(parse_object(c, item, depth + 2));
                    TRY(mark_valid(item));
                    skip_ws(c);
                    uint8_t next = take(c);
                    if (next == ']') break;
                    if (next != ',') return DECLINE;
                }
            }
            TRY(push_offset(f, (size_t)list_end(f)));
            return mark_valid(f);
        }
    }
    return DECLINE;
}

/* Fields usually come in the order of the description: look from just after the previous match. */
static int find_field(const Node *st, const Span *key, int *hint) {
    for (int j = 0; j < st->nchildren; j++) {
        int i = (*hint + j) % st->nchildren;
        const Node *f = &st->children[i];
        if (f->name_len == key->len && memcmp(f->name, key->start, key->len) == 0) {
            *hint = i + 1;
            return i;
        }
    }
    return -1;
}

/* The object at the cursor into the children of `st` (the caller records `st`'s own row). */
static int parse_object(Cursor *c, Node *st, int depth) {
    if (depth >= MAX_DEPTH) return DECLINE;
    uint64_t seen = 0;
    int hint = 0;
    c->p++; /* the '{' */
    skip_ws(c);
    if (peek(c) == '}') {
        c->p++;
    } else {
        for (;;) {
            Span key;
            skip_ws(c);
            TRY(scan_string(c, &key));
            if (key.escaped) return DECLINE;
            int i = find_field(st, &key, &hint);
            if (i < 0 || (seen >> i) & 1) return DECLINE; /* unknown or duplicate key */
            seen |= (uint64_t)1 << i;
            TRY(expect(c, ':'));
            TRY(parse_field(c, &st->children[i], depth, depth == 1));
            skip_ws(c);
            uint8_t next = take(c);
            if (next == '}') break;
            if (next != ',') return DECLINE;
        }
    }
    for (int i = 0; i < st->nchildren; i++) {
        if ((seen >> i) & 1) continue;
        if (st->children[i].required) return DECLINE;
        TRY(append_null(&st->children[i]));
    }
    return OK;
}

/* The whole text: {"Records": [record, ...]} and nothing else but whitespace. */
static int parse_file(Cursor *c, Node *root) {
    Span key;
    TRY(expect(c, '{'));
    skip_ws(c);
    TRY(scan_string(c, &key));
    if (key.escaped || key.len != 7 || memcmp(key.start, "Records", 7) != 0) return DECLINE;
    TRY(expect(c, ':'));
    TRY(expect(c, '['));
    skip_ws(c);
    if (peek(c) == ']') {
        c->p++;
    } else {
        for (;;) {
            skip_ws(c);
            if (peek(c) != '{') return DECLINE;
            TRY(parse_object(c, root, 1));
            root->length++;
            skip_ws(c);
            uint8_t next = take(c);
            if (next == ']') break;
            if (next != ',') return DECLINE;
        }
    }
    TRY(expect(c, '}'));
    skip_ws(c);
    return c->p == c->end ? OK : DECLINE;
}

/* --- the Python type ---------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Node root;
} Builder;

static int node_from_spec(Node *n, PyObject *spec, int depth) {
    PyObject *name, *children;
    int kind, required;
    if (depth > 8) {
        PyErr_SetString(PyExc_ValueError, "record description nested too deeply");
        return -1;
    }
    if (!PyArg_ParseTuple(spec, "UipO!", &name, &kind, &required, &PyList_Type, &children)) return -1;
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(name, &size);
    if (text == NULL) return -1;
    n->name = PyMem_Malloc((size_t)size + 1);
    if (n->name == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(n->name, text, (size_t)size + 1);
    n->name_len = (size_t)size;
    n->kind = kind;
    n->required = required;
    Py_ssize_t count = PyList_GET_SIZE(children);
    int wants = kind == K_STRUCT ? -1 : kind == K_LIST ? 1 : 0;
    if (kind < K_STRING || kind > K_TIME || (wants >= 0 && count != wants) || count > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "bad description of field %U", name);
        return -1;
    }
    if (count) {
        n->children = PyMem_Calloc((size_t)count, sizeof(Node));
        if (n->children == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        n->nchildren = (int)count;
        for (Py_ssize_t i = 0; i < count; i++)
            if (node_from_spec(&n->children[i], PyList_GET_ITEM(children, i), depth + 1) < 0) return -1;
    }
    if (kind == K_LIST && n->children[0].kind != K_STRUCT) {
        PyErr_Format(PyExc_ValueError, "list field %U must hold structs", name);
        return -1;
    }
    return 0;
}

static int Builder_init(Builder *self, PyObject *args, PyObject *kwds) {
    PyObject *fields;
    static char *keywords[] = {"fields", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!", keywords, &PyList_Type, &fields)) return -1;
    node_free(&self->root);
    PyObject *spec = Py_BuildValue("(siiO)", "", K_STRUCT, 0, fields);
    if (spec == NULL) return -1;
    int failed = node_from_spec(&self->root, spec, 0);
    Py_DECREF(spec);
    if (failed) {
        node_free(&self->root);
        return -1;
    }
    if (node_reset(&self->root) != OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void Builder_dealloc(Builder *self) {
    node_free(&self->root);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Builder_add(Builder *self, PyObject *arg) {
    if (self->root.kind != K_STRUCT) {
        PyErr_SetString(PyExc_RuntimeError, "Builder was not initialised");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Cursor c = {(const uint8_t *)view.buf, (const uint8_t *)view.buf + view.len};
    Py_ssize_t before = self->root.length;
    node_mark(&self->root);
    int outcome = parse_file(&c, &self->root);
    PyBuffer_Release(&view);
    if (outcome != OK) {
        node_rollback(&self->root);
        if (outcome == NOMEM) return PyErr_NoMemory();
        return PyLong_FromLong(-1);
    }
    return PyLong_FromSsize_t(self->root.length - before);
}

/* A finished buffer handed to Python without a copy: it exports the memory (read-only) through the buffer
 * protocol, for pyarrow to wrap, and frees it when the last user lets go. */
typedef struct {
    PyObject_HEAD
    uint8_t *data;
    Py_ssize_t len;
} Chunk;

static int Chunk_getbuffer(Chunk *self, Py_buffer *view, int flags) {
    static uint8_t empty;
    return PyBuffer_FillInfo(view, (PyObject *)self, self->data ? self->data : &empty, self->len, 1, flags);
}

static void Chunk_dealloc(Chunk *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyBufferProcs Chunk_as_buffer = {.bf_getbuffer = (getbufferproc)Chunk_getbuffer};

static PyTypeObject ChunkType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "trailsmith.ingestion._fastdecode.Chunk",
    .tp_basicsize = sizeof(Chunk),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The memory of one finished column buffer (read-only, buffer protocol)",
    .tp_dealloc = (destructor)Chunk_dealloc,
    .tp_as_buffer = &Chunk_as_buffer,
};

/* The first `len` bytes of `b` as a Chunk; `b` starts over with fresh memory of the same capacity (the next
 * batch is likely as large: no growing it again). */
static PyObject *hand_over(Buf *b, size_t len) {
    Chunk *chunk = PyObject_New(Chunk, &ChunkType);
    if (chunk == NULL) return NULL;
    chunk->data = b->data;
    chunk->len = (Py_ssize_t)len;
    size_t cap = b->cap;
    b->data = cap ? malloc(cap) : NULL;
    b->cap = b->data ? cap : 0;
    b->len = 0;
    return (PyObject *)chunk;
}

/* (length, null count, validity buffer or None, buffers and children...) for one column; see the wrapper.
 * The node's buffers go with it: call node_reset afterwards. */
static PyObject *node_output(Node *n) {
    PyObject *validity = n->nulls ? hand_over(&n->validity, n->validity.len) : Py_NewRef(Py_None);
    PyObject *rest = NULL;
    if (validity == NULL) return NULL;
    switch (n->kind) {
        case K_STRING:
        case K_RAW:
            rest = Py_BuildValue("(NN)", hand_over(&n->offsets, n->offsets.len), hand_over(&n->values, n->values.len));
            break;
        case K_BOOL:
            rest = Py_BuildValue("(N)", hand_over(&n->values, ((size_t)n->length + 7) / 8));
            break;
        case K_TIME:
            rest = Py_BuildValue("(N)", hand_over(&n->values, n->values.len));
            break;
        case K_STRUCT: {
            rest = PyTuple_New(n->nchildren);
            for (int i = 0; rest != NULL && i < n->nchildren; i++) {
                PyObject *child = node_output(&n->children[i]);
                if (child == NULL) Py_CLEAR(rest);
                else PyTuple_SET_ITEM(rest, i, child);
            }
            break;
        }
        case K_LIST:
            rest = Py_BuildValue("(NN)", hand_over(&n->offsets, n->offsets.len), node_output(&n->children[0]));
            break;
    }
    if (rest == NULL) {
        Py_DECREF(validity);
        return NULL;
    }
    return Py_BuildValue("(nnNN)", n->length, n->nulls, validity, rest);
}

static PyObject *Builder_finish(Builder *self, PyObject *Py_UNUSED(ignored)) {
    if (self->root.kind != K_STRUCT) {
        PyErr_SetString(PyExc_RuntimeError, "Builder was not initialised");
        return NULL;
    }
    PyObject *out = PyTuple_New(self->root.nchildren);
    if (out == NULL) return NULL;
    for (int i = 0; i < self->root.nchildren; i++) {
        PyObject *column = node_output(&self->root.children[i]);
        if (column == NULL) { /* out of memory: the rows are lost, the builder stays consistent (empty) */
            Py_DECREF(out);
            node_reset(&self->root);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, column);
    }
    PyObject *result = Py_BuildValue("(nN)", self->root.length, out);
    if (node_reset(&self->root) != OK) {
        Py_XDECREF(result);
        return PyErr_NoMemory();
    }
    return result;
}

static PyObject *Builder_rows(Builder *self, void *Py_UNUSED(closure)) { return PyLong_FromSsize_t(self->root.length); }

static PyMethodDef Builder_methods[] = {
    {"add", (PyCFunction)Builder_add, METH_O,
     "add(text) -> rows added, or -1 when the text is not a file this decoder takes whole (nothing added)"},
    {"finish", (PyCFunction)Builder_finish, METH_NOARGS,
     "finish() -> (rows, columns): the buffers of every column; the builder starts over, empty"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Builder_getset[] = {
    {"rows", (getter)Builder_rows, NULL, "rows added since the last finish()", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "trailsmith.ingestion._fastdecode.Builder",
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Builder(fields): CloudTrail log file texts -> Arrow buffers of the described columns",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Builder_init,
    .tp_dealloc = (destructor)Builder_dealloc,
    .tp_methods = Builder_methods,
    .tp_getset = Builder_getset,
};

/* ---- Seen: the eventIDs a worker has written in a batch ------------------------------------------------
 *
 * A hash set of byte strings, each with the int32 it was added with (the index of its source file). For
 * every row of an Arrow string column, first() answers the value stored with an equal string added before,
 * or -1 (and adds the row's string with its value). Strings are hashed with the interpreter's own keyed
 * hash (SipHash with a per-process random key, as for dict keys), so crafted eventIDs cannot pile into one
 * probe chain. */

typedef struct {
    uint64_t hash;
    size_t at;    /* offset of the string in the arena; SIZE_MAX for an empty slot */
    uint32_t len; /* Arrow string offsets are int32: no string is longer */
    int32_t value;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    size_t capacity; /* a power of two, or 0 */
    size_t used;
    uint8_t *arena;
    size_t arena_len, arena_cap;
} Seen;

static void Seen_dealloc(Seen *self) {
    free(self->slots);
    free(self->arena);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Room for `more` strings at a load of at most one half. */
static int seen_reserve(Seen *self, size_t more) {
    size_t capacity = self->capacity ? self->capacity : 4096;
    if (more > SIZE_MAX / 4 - self->used) return -1;
    while ((self->used + more) * 2 > capacity) {
        if (capacity > SIZE_MAX / 2 / sizeof(Slot)) return -1;
        capacity *= 2;
    }
    if (capacity == self->capacity) return 0;
    Slot *slots = malloc(capacity * sizeof(Slot));
    if (slots == NULL) return -1;
    for (size_t i = 0; i < capacity; i++) slots[i].at = SIZE_MAX;
    for (size_t i = 0; i < self->capacity; i++) {
        if (self->slots[i].at == SIZE_MAX) continue;
        size_t j = (size_t)self->slots[i].hash & (capacity - 1);
        while (slots[j].at != SIZE_MAX) j = (j + 1) & (capacity - 1);
        slots[j] = self->slots[i];
    }
    free(self->slots);
    self->slots = slots;
    self->capacity = capacity;
    return 0;
}

/* The value stored with `key` (whose hash is `hash`), or -1 after storing `value` with it; -2 when out of
 * memory. The table has room (seen_reserve). */
static int64_t seen_first(Seen *self, uint64_t hash, const uint8_t *key, uint32_t len, int32_t value) {
    size_t mask = self->capacity - 1, j = (size_t)hash & mask;
    while (self->slots[j].at != SIZE_MAX) {
        Slot *slot = &self->slots[j];
        if (slot->hash == hash && slot->len == len && (len == 0 || memcmp(self->arena + slot->at, key, len) == 0))
            return slot->value;
        j = (j + 1) & mask;
    }
    if (len > self->arena_cap - self->arena_len) {
        size_t cap = self->arena_cap ? self->arena_cap : 65536;
        while (len > cap - self->arena_len) {
            if (cap > SIZE_MAX / 2) return -2;
            cap *= 2;
        }
        uint8_t *arena = realloc(self->arena, cap);
        if (arena == NULL) return -2;
        self->arena = arena;
        self->arena_cap = cap;
    }
    if (len) memcpy(self->arena + self->arena_len, key, len);
    self->slots[j] = (Slot){hash, self->arena_len, len, value};
    self->arena_len += len;
    self->used++;
    return -1;
}

/* Rows ahead whose slot is fetched into the cache while this one is probed: a table of a million strings
 * is far larger than the cache, and a probe that waits for memory costs several times the hash. */
#define PREFETCH_AHEAD 8

static PyObject *Seen_first(Seen *self, PyObject *args) {
    Py_buffer offsets, data, validity = {0}, values;
    PyObject *validity_arg;
    Py_ssize_t offset, length;
    if (!PyArg_ParseTuple(args, "y*y*Onny*", &offsets, &data, &validity_arg, &offset, &length, &values))
        return NULL;
    PyObject *out = NULL;
    uint64_t *hashes = NULL;
    int have_validity = 0;
    if (validity_arg != Py_None) {
        if (PyObject_GetBuffer(validity_arg, &validity, PyBUF_SIMPLE) < 0) goto done;
        have_validity = 1;
    }
    if (offset < 0 || length < 0 || offset > PY_SSIZE_T_MAX / 8 - length - 1 ||
        offsets.len / 4 < offset + length + 1 || values.len / 4 < length ||
        (have_validity && validity.len < (offset + length + 7) / 8)) {
        PyErr_SetString(PyExc_ValueError, "buffers too short for the rows asked for");
        goto done;
    }
    if (seen_reserve(self, (size_t)length) < 0 || (hashes = malloc((size_t)length * 8 + 8)) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, length * 4);
    if (out == NULL) goto done;
    int32_t *answers = (int32_t *)PyBytes_AS_STRING(out);
    const uint8_t *bytes = data.buf;
    const uint8_t *bits = have_validity ? validity.buf : NULL;
    /* first the hashes, reading the strings in order; then the probes, each slot fetched ahead */
    for (Py_ssize_t row = 0; row < length; row++) {
        Py_ssize_t at = offset + row;
        int32_t start, end;
        memcpy(&start, (const uint8_t *)offsets.buf + 4 * at, 4);
        memcpy(&end, (const uint8_t *)offsets.buf + 4 * (at + 1), 4);
        if (start < 0 || end < start || end > data.len) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_ValueError, "string offsets outside the data buffer");
            goto done;
        }
        hashes[row] = (uint64_t)_Py_HashBytes(bytes + start, end - start);
    }
    size_t mask = self->capacity - 1;
    for (Py_ssize_t row = 0; row < length; row++) {
#if defined(__GNUC__) || defined(__clang__)
        if (row + PREFETCH_AHEAD < length) __builtin_prefetch(&self->slots[hashes[row + PREFETCH_AHEAD] & mask]);
#endif
        Py_ssize_t at = offset + row;
        if (bits && !(bits[at / 8] >> (at % 8) & 1)) {
            answers[row] = -1; /* a null eventID: left to the commit */
            continue;
        }
        int32_t start, end, value;
        memcpy(&start, (const uint8_t *)offsets.buf + 4 * at, 4);
        memcpy(&end, (const uint8_t *)offsets.buf + 4 * (at + 1), 4);
        memcpy(&value, (const uint8_t *)values.buf + 4 * row, 4);
        int64_t first = seen_first(self, hashes[row], bytes + start, (uint32_t)(end - start), value);
        if (first == -2) {
            Py_CLEAR(out);
            PyErr_NoMemory();
            goto done;
        }
        answers[row] = (int32_t)first;
    }
done:
    free(hashes);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&data);
    PyBuffer_Release(&values);
    if (have_validity) PyBuffer_Release(&validity);
    return out;
}

static PyObject *Seen_len(Seen *self, void *Py_UNUSED(closure)) { return PyLong_FromSize_t(self->used); }

static PyMethodDef Seen_methods[] = {
    {"first", (PyCFunction)Seen_first, METH_VARARGS,
     "first(offsets, data, validity, offset, length, values) -> int32 per row (bytes): the value stored "
     "with an equal string before, or -1 after storing the row's string with its value (-1 for nulls, "
     "which are not stored). The first three are an Arrow string array's buffers; values holds an int32 "
     "per row."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Seen_getset[] = {
    {"size", (getter)Seen_len, NULL, "strings stored", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SeenType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "trailsmith.ingestion._fastdecode.Seen",
    .tp_basicsize = sizeof(Seen),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Seen(): a set of strings, each with the int32 it came with (see first)",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Seen_dealloc,
    .tp_methods = Seen_methods,
    .tp_getset = Seen_getset,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fastdecode",
    .m_doc = "Compiled decoder of CloudTrail log files into Arrow buffers.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__fastdecode(void) {
    if (PyType_Ready(&BuilderType) < 0 || PyType_Ready(&ChunkType) < 0 || PyType_Ready(&SeenType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObject(m, "Builder", Py_NewRef((PyObject *)&BuilderType)) < 0) {
        Py_DECREF((PyObject *)&BuilderType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObject(m, "Seen", Py_NewRef((PyObject *)&SeenType)) < 0) {
        Py_DECREF((PyObject *)&SeenType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "STRING", K_STRING);
    PyModule_AddIntConstant(m, "BOOL", K_BOOL);
    PyModule_AddIntConstant(m, "RAW", K_RAW);
    PyModule_AddIntConstant(m, "STRUCT", K_STRUCT);
    PyModule_AddIntConstant(m, "LIST", K_LIST);
    PyModule_AddIntConstant(m, "TIME", K_TIME);
    return m;
}

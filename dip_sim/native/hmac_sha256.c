/*
 * dip_sim._hmac: HMAC-SHA256 (RFC 2104, FIPS 180-4) of many short strings at once.
 *
 * Patient identifiers are pseudonymised on ingest (issue 3 §2) as the HMAC-SHA256 of the
 * identifier under the bureau's key. DuckDB's sha256() would do (dip_sim.ingest.pseudonym
 * has that SQL form too, and the tests hold the two equal), but an HMAC is four SHA-256
 * blocks per identifier there; here the key's two padded blocks are hashed once per call
 * (the "midstates"), leaving two blocks per identifier, on the CPU's SHA instructions when it
 * has them. Ten million identifiers take about a second instead of six.
 *
 * hmac_sha256_hex(data, offsets, wide, ipad, opad, hex_chars, portable=False) -> bytes:
 *   data      the strings' bytes, end to end (an Arrow string array's data buffer);
 *   offsets   n + 1 offsets into data (int32, or int64 when wide), as Arrow keeps them;
 *   ipad/opad the key XOR 0x36 / 0x5c, each 64 bytes (dip_sim.ingest.pseudonym.hmac_pads);
 *   hex_chars how many hex characters of each digest to keep (2..64, even);
 *   portable  use the portable code even where the SHA instructions are (tests compare both);
 * returns n * hex_chars ASCII bytes: the pseudonyms end to end. The GIL is released while
 * hashing, so DuckDB's threads can hash two chunks at once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

typedef void (*compress_fn)(uint32_t state[8], const uint8_t *blocks, size_t count);

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* FIPS 180-4 §6.2.2, portable. */
static void compress_portable(uint32_t state[8], const uint8_t *p, size_t count) {
    uint32_t w[64];
    while (count--) {
        for (int t = 0; t < 16; t++)
            w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
                   (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ROTR(w[t - 15], 7) ^ ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ROTR(w[t - 2], 17) ^ ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
                          K[t] + w[t];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
        p += 64;
    }
}

#ifdef HAVE_SHA_NI
/* The same compression on the x86 SHA extensions (Intel's published instruction sequence). */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_sha_ni(uint32_t state[8], const uint8_t *p, size_t count) {
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8);  /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);       /* CDGH */
    while (count--) {
        __m128i abef = s0, cdgh = s1, w[16];
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), swap);
            else  /* W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], four at a time */
                w[i] = _mm_sha256msg2_epu32(
                    _mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]),
                                  _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
                    w[i - 1]);
            __m128i msg = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
        p += 64;
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);         /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);          /* DCHG */
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(tmp, s1, 0xF0));  /* DCBA */
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(s1, tmp, 8));    /* HGFE */
}

static int cpu_has_sha_ni(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
        return 0;  /* SSE4.1, SSSE3 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 29) & 1;  /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

static compress_fn compress = compress_portable;

/* Hash the rest of a message whose first `done` bytes (whole blocks) are already in state. */
static void finish(compress_fn fn, uint32_t state[8], const uint8_t *msg, size_t len,
                   uint64_t done, uint8_t digest[32]) {
    uint8_t tail[128];
    size_t whole = len / 64, rest = len % 64;
    if (whole)
        fn(state, msg, whole);
    memset(tail, 0, sizeof tail);
    memcpy(tail, msg + whole * 64, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest < 56 ? 64 : 128;
    uint64_t bits = (done + (uint64_t)len) * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
    fn(state, tail, tail_len / 64);
    for (int i = 0; i < 8; i++) {
        digest[4 * i] = (uint8_t)(state[i] >> 24);
        digest[4 * i + 1] = (uint8_t)(state[i] >> 16);
        digest[4 * i + 2] = (uint8_t)(state[i] >> 8);
        digest[4 * i + 3] = (uint8_t)state[i];
    }
}

static PyObject *hmac_sha256_hex(PyObject *self, PyObject *args) {
    Py_buffer data, offsets, ipad, opad;
    int wide, hex_chars, portable = 0;
    if (!PyArg_ParseTuple(args, "y*y*py*y*i|p", &data, &offsets, &wide, &ipad, &opad, &hex_chars,
                          &portable))
        return NULL;
    PyObject *result = NULL;
    size_t width = wide ? 8 : 4;
    if (ipad.len != 64 || opad.len != 64 || hex_chars < 2 || hex_chars > 64 || hex_chars % 2 ||
        offsets.len < (Py_ssize_t)width || offsets.len % width) {
        PyErr_SetString(PyExc_ValueError, "hmac_sha256_hex: bad pads, offsets or hex_chars");
        goto done;
    }
    Py_ssize_t n = offsets.len / (Py_ssize_t)width - 1;
    const uint8_t *bytes = data.buf;
    for (Py_ssize_t i = 0; i <= n; i++) {  /* every string must lie within data */
        int64_t o = wide ? ((const int64_t *)offsets.buf)[i] : ((const int32_t *)offsets.buf)[i];
        int64_t prev = i ? (wide ? ((const int64_t *)offsets.buf)[i - 1]
                                 : ((const int32_t *)offsets.buf)[i - 1]) : o;
        if (o < 0 || o > data.len || o < prev) {
            PyErr_SetString(PyExc_ValueError, "hmac_sha256_hex: offsets outside the data");
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(NULL, n * hex_chars);
    if (!result)
        goto done;
    char *out = PyBytes_AS_STRING(result);
    uint32_t inner0[8], outer0[8];
    memcpy(inner0, H0, sizeof H0);
    memcpy(outer0, H0, sizeof H0);
    compress_fn fn = portable ? compress_portable : compress;
    Py_BEGIN_ALLOW_THREADS
    fn(inner0, ipad.buf, 1);  /* the key's blocks: once for all identifiers */
    fn(outer0, opad.buf, 1);
    static const char hex[] = "0123456789abcdef";
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t start = wide ? ((const int64_t *)offsets.buf)[i] : ((const int32_t *)offsets.buf)[i];
        int64_t end = wide ? ((const int64_t *)offsets.buf)[i + 1]
                           : ((const int32_t *)offsets.buf)[i + 1];
        uint32_t st[8];
        uint8_t inner[32], digest[32];
        memcpy(st, inner0, sizeof st);
        finish(fn, st, bytes + start, (size_t)(end - start), 64, inner);  /* H(ipad ‖ m) */
        memcpy(st, outer0, sizeof st);
        finish(fn, st, inner, 32, 64, digest);                            /* H(opad ‖ inner) */
        for (int j = 0; j < hex_chars / 2; j++) {
            out[i * hex_chars + 2 * j] = hex[digest[j] >> 4];
            out[i * hex_chars + 2 * j + 1] = hex[digest[j] & 15];
        }
    }
    Py_END_ALLOW_THREADS
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    PyBuffer_Release(&ipad);
    PyBuffer_Release(&opad);
    return result;
}

static PyObject *uses_sha_instructions(PyObject *self, PyObject *unused) {
#ifdef HAVE_SHA_NI
    return PyBool_FromLong(compress == compress_sha_ni);
#else
    return PyBool_FromLong(0);
#endif
}

static PyMethodDef methods[] = {
    {"hmac_sha256_hex", hmac_sha256_hex, METH_VARARGS,
     "hmac_sha256_hex(data, offsets, wide, ipad, opad, hex_chars, portable=False) -> bytes: "
     "the HMAC-SHA256 "
     "of each string of an Arrow string array, hex_chars hex characters each, end to end."},
    {"uses_sha_instructions", uses_sha_instructions, METH_NOARGS,
     "True when hashing runs on the CPU's SHA instructions."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hmac",
                                    "HMAC-SHA256 of many identifiers at once.", -1, methods};

PyMODINIT_FUNC PyInit__hmac(void) {
#ifdef HAVE_SHA_NI
    if (cpu_has_sha_ni())
        compress = compress_sha_ni;
#endif
    return PyModule_Create(&module);
}

/* The byte buffer: growth, printf, JSON string escaping, consume. */
#include "base/buf.h"

#include <criterion/criterion.h>
#include <string.h>

Test(buf, append_grows_and_keeps_a_nul) {
    buf_t b = BUF_INIT;
    for (int i = 0; i < 1000; i++) cr_assert_eq(buf_append(&b, "abc", 3), 0);
    cr_assert_eq(b.len, 3000);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert_eq(memcmp(b.data + 2997, "abc", 3), 0);
    buf_free(&b);
    cr_assert_null(b.data);
}

Test(buf, printf_and_u64) {
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s=%d;", "x", 42);
    buf_put_u64(&b, 0);
    buf_puts(&b, ",");
    buf_put_u64(&b, 18446744073709551615ull);
    cr_assert_str_eq(b.data, "x=42;0,18446744073709551615");
    buf_free(&b);
}

Test(buf, json_string_escapes) {
    buf_t b = BUF_INIT;
    const char in[] = "a\"b\\c\n\x01";
    buf_json_string(&b, in, sizeof(in) - 1);
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"");
    buf_free(&b);
}

Test(buf, consume_drops_a_prefix) {
    buf_t b = BUF_INIT;
    buf_puts(&b, "hello world");
    buf_consume(&b, 6);
    cr_assert_str_eq(b.data, "world");
    buf_consume(&b, 100);
    cr_assert_eq(b.len, 0);
    buf_free(&b);
}

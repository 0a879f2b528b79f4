/*
 * plain.h - the part of Criterion's API the stress tests use, for the
 * plain runner (tests/stress/plain.c, program tests/stress/stress-plain).
 *
 * Criterion 2.4 cannot start under ThreadSanitizer: before reading any
 * option, its sandbox (BoxFort) tries to map an arena at a few random
 * addresses in a range that TSan has reserved for itself, and gives up
 * ("Could not initialize inheritable arena", Criterion issue #274);
 * neither --jobs 1 nor --debug nor CRITERION_* variables avoid it.  util.h includes
 * this header instead of Criterion's when ST_PLAIN is defined, so the same
 * test files, compiled a second time, register here and run in plain.c.
 *
 * Only what the stress tests use is here: ParameterizedTest with its
 * parameters, .init and .timeout; cr_assert and its comparisons;
 * cr_log_info.  A test using anything else fails to build as
 * stress-plain, which `make check` builds in every configuration.
 *
 * As under Criterion, an assertion may fail only on the test's main
 * thread (util.h: workers record failures with ST_CHECK): it longjmp()s
 * back to the runner, which counts the test as failing.
 */
#ifndef SNAPMAP_TESTS_STRESS_PLAIN_H
#define SNAPMAP_TESTS_STRESS_PLAIN_H

#include <stddef.h>

/* What ParameterizedTestParameters returns: @length elements of @size. */
struct pr_params {
	void *params;
	size_t size;
	size_t length;
};

struct pr_test {
	const char *suite;
	const char *name;
	struct pr_params (*params)(void);
	void (*call)(void *param);
	/* Criterion's .init and .timeout (seconds, 0: none). */
	void (*init)(void);
	double timeout;
	struct pr_test *next;
};

void pr_register(struct pr_test *test);

__attribute__((format(printf, 4, 5), noreturn))
void pr_fail(const char *file, int line, const char *cond,
	     const char *fmt, ...);

__attribute__((format(printf, 1, 2)))
void pr_log_info(const char *fmt, ...);

#define cr_make_param_array(Type, Array, Length) \
	((struct pr_params){ (Array), sizeof(Type), (Length) })

#define ParameterizedTestParameters(Suite, Name) \
	static struct pr_params pr_params_##Suite##_##Name(void)

/*
 * @Param is the body's parameter declaration ("struct x *p"); the call
 * wrapper passes the runner's void * through the body's prototype, so the
 * pointer is converted, not the function type.
 */
#define ParameterizedTest(Param, Suite, Name, ...)			\
	static void pr_body_##Suite##_##Name(Param);			\
	static void pr_call_##Suite##_##Name(void *param)		\
	{								\
		pr_body_##Suite##_##Name(param);			\
	}								\
	static struct pr_test pr_test_##Suite##_##Name = {		\
		.suite = #Suite,					\
		.name = #Name,						\
		.params = pr_params_##Suite##_##Name,			\
		.call = pr_call_##Suite##_##Name,			\
		__VA_ARGS__						\
	};								\
	__attribute__((constructor))					\
	static void pr_register_##Suite##_##Name(void)			\
	{								\
		pr_register(&pr_test_##Suite##_##Name);			\
	}								\
	static void pr_body_##Suite##_##Name(Param)

/*
 * The message format gets a leading tab so that it is never empty (an
 * assertion without a message), which -Wformat-zero-length would refuse.
 */
#define cr_assert(Cond, ...)						\
	((Cond) ? (void)0 :						\
	 pr_fail(__FILE__, __LINE__, #Cond, "\t" __VA_ARGS__))
#define cr_assert_fail(...)	cr_assert(0, __VA_ARGS__)
#define cr_assert_eq(A, B, ...)	cr_assert((A) == (B), __VA_ARGS__)
#define cr_assert_gt(A, B, ...)	cr_assert((A) > (B), __VA_ARGS__)
#define cr_assert_leq(A, B, ...) cr_assert((A) <= (B), __VA_ARGS__)
#define cr_assert_not_null(P, ...) cr_assert((P) != NULL, __VA_ARGS__)
#define cr_log_info(...)	pr_log_info(__VA_ARGS__)

#endif /* SNAPMAP_TESTS_STRESS_PLAIN_H */

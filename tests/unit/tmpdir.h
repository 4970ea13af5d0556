/* tests/unit/tmpdir.h — a fresh folder per test (Criterion runs tests in
 * parallel processes), removed with its files afterwards.
 *
 *     Test(npy, write, .init = make_tmp, .fini = remove_tmp) {
 *         nnp_npy_write(tmp_path("a.npy"), &a);
 *         cr_assert_eq(count_files(tmp_dir), 1);
 *     }
 */
#ifndef NNP_TESTS_TMPDIR_H
#define NNP_TESTS_TMPDIR_H

extern char tmp_dir[64];

/* Create tmp_dir as /tmp/nnp-test-XXXXXX. */
void make_tmp(void);
/* Remove tmp_dir and the files in it (not recursive: tests write flat). */
void remove_tmp(void);
/* @return the number of entries in dir_path, "." and ".." not counted. */
int count_files(const char *dir_path);
/* @return tmp_dir/name in a static buffer: copy it to keep two paths at once. */
const char *tmp_path(const char *name);

#endif

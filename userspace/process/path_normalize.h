// Lexical path folding for file events: turns "<cwd or dirfd path>" + "<path the process
// passed>" into one absolute path.
//
// Symlinks are deliberately not resolved. The directory part comes from the kernel, which
// builds it from the dentry chain and so already names the real directory; only the relative
// tail the process supplied still has "." / ".." / "//" in it. Resolving that tail against
// the sensor's own view of the filesystem would be wrong anyway: the process may live in
// another mount namespace or chroot, and the link may have changed since the syscall.
// Consequence: "dir/link/.." folds to "dir", which is what the process asked for textually
// but not necessarily what the kernel opened.
#pragma once
#include <string>
#include <string_view>

namespace rein::process {

// Folds an absolute path: repeated '/' collapse, "." components go, ".." removes the
// previous component and stops at "/", no trailing '/' except for the root itself.
// Input without a leading '/' is treated as relative to "/". Any byte other than '/' is
// part of a component, NUL included (it is not a terminator here). Linear time.
std::string normalize_path(std::string_view abs);

// normalize_path(dir + "/" + rel), or normalize_path(rel) when rel is absolute.
// An empty rel names dir itself.
std::string join_path(std::string_view dir, std::string_view rel);

}  // namespace rein::process

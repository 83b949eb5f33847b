// The Z3 C API (Debian's libz3-dev), for the Swift wrapper in Sources/Z3.
#include <z3.h>

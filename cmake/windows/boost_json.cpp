// Boost.JSON's library part, compiled here because the Windows build has no libboost_json for
// mingw: the header-only form Boost documents (include <boost/json/src.hpp> in exactly one TU).
#include <boost/json/src.hpp>

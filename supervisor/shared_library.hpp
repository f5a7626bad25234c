// A library opened with dlopen rather than linked: libmicrohttpd for the
// HTTP listener, libcurl for HTTP probes. Each brings TLS and more, loaded
// at every exec of seq-supervisor (nested ones too) if it were linked; so
// it is opened only by a supervisor that needs it. Its functions are
// bound by name into pointers typed from its own header.
#pragma once

#include <dlfcn.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace seq::sup {

class SharedLibrary {
public:
    // Throws `needed_for` and dlerror() if it cannot be opened.
    SharedLibrary(const char* file, const std::string& needed_for) : handle_(dlopen(file, RTLD_NOW | RTLD_LOCAL), dlclose) {
        if (!handle_) throw std::runtime_error(needed_for + ": " + dlerror());
        name_ = file;
    }
    // `function` = the symbol `symbol`; throws if there is none.
    template <class F>
    void bind(F& function, const char* symbol) const {
        void* at = dlsym(handle_.get(), symbol);
        if (!at) throw std::runtime_error(name_ + " has no " + symbol + ": too old?");
        function = reinterpret_cast<F>(at);
    }

private:
    std::unique_ptr<void, int (*)(void*)> handle_;
    std::string name_;
};

}  // namespace seq::sup

#include "stash.hpp"

#include "commands.hpp"

namespace seq::stash {

bool execute(Store& store, std::span<const std::string_view> args, std::string& out, int proto) {
    auto cmd = args[0];
    auto argc = args.size();
    if (is_command(cmd, "get")) {
        if (argc != 2) return resp::append_error(out, wrong_args(cmd)), true;
        if (auto v = store.get(args[1]))
            resp::append_bulk(out, *v);
        else
            resp::append_null(out, proto);
    } else if (is_command(cmd, "set")) {
        if (argc != 3) return resp::append_error(out, wrong_args(cmd)), true;
        store.set(args[1], args[2]);
        resp::append_simple(out, "OK");
    } else if (is_command(cmd, "del")) {
        if (argc < 2) return resp::append_error(out, wrong_args(cmd)), true;
        std::int64_t n = 0;
        for (auto key : args.subspan(1)) n += store.del(key) ? 1 : 0;
        resp::append_int(out, n);
    } else if (is_command(cmd, "ping")) {
        if (argc > 2) return resp::append_error(out, wrong_args(cmd)), true;
        if (argc == 2)
            resp::append_bulk(out, args[1]);
        else
            resp::append_simple(out, "PONG");
    } else if (is_command(cmd, "quit")) {
        resp::append_simple(out, "OK");
        return false;
    } else {
        resp::append_error(out, unknown_command(cmd));
    }
    return true;
}

}  // namespace seq::stash

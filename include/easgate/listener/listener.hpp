#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "easgate/listener/downstream_session.hpp"

namespace easgate::listener {

// Accepts device connections on one address and hands each to a worker's executor, so that
// every connection lives on one thread (no locks on the request path) and all cores are used.
class Listener {
public:
    using ExecutorPicker = std::function<boost::asio::any_io_executor()>;

    // Binds now, so a taken port or a missing privilege fails at start with a clear message.
    Listener(boost::asio::io_context& accept_context, const boost::asio::ip::tcp::endpoint& endpoint,
             std::shared_ptr<ListenerRuntime> runtime, ExecutorPicker pick_worker);

    void start();
    void stop();
    // From the next accepted connection on (a SIGHUP reload); open connections keep theirs. Called on
    // the accept context's thread, like the accept loop that reads it.
    void use(std::shared_ptr<ListenerRuntime> runtime) { runtime_ = std::move(runtime); }
    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    // Why devices can't connect now (closed, or the last accept failed, e.g. out of descriptors);
    // nullopt while accepting. On the accept context's thread.
    std::optional<std::string> not_accepting_reason() const;

private:
    boost::asio::awaitable<void> accept_loop();
    // At limits.max_connections: true when a connection idle long enough was reclaimed for this one.
    bool make_room(boost::asio::ip::tcp::socket& socket);
    void refuse_over_capacity(boost::asio::ip::tcp::socket& socket);

    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<ListenerRuntime> runtime_;
    ExecutorPicker pick_worker_;
    std::string where_;  // address:port, for the reasons above
    bool running_ = false;
    std::string accept_failure_;  // the last accept's error; empty once one works
};

}  // namespace easgate::listener

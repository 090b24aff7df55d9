#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>

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
    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

private:
    boost::asio::awaitable<void> accept_loop();
    void refuse_over_capacity(boost::asio::ip::tcp::socket& socket);

    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<ListenerRuntime> runtime_;
    ExecutorPicker pick_worker_;
};

}  // namespace easgate::listener

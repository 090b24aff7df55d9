#include "fault_relay.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <future>
#include <list>
#include <map>

namespace easgate::testing {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;

}  // namespace

// Everything lives on the relay's one thread; handlers hold the state alive.
struct FaultRelay::State : std::enable_shared_from_this<FaultRelay::State> {
    struct Pipe {
        tcp::socket device;
        tcp::socket server;
        std::array<char, 16 * 1024> to_server{};
        std::array<char, 16 * 1024> to_device{};
        explicit Pipe(asio::io_context& context) : device(context), server(context) {}
    };

    asio::io_context& context;
    tcp::endpoint listen;
    tcp::endpoint target;
    bool use_udp;
    Mode mode;
    std::chrono::milliseconds delay{0};
    std::string first_bytes;  // sent to the target before the device's
    tcp::acceptor acceptor;
    tcp::socket queue_filler;  // drop: the one connection that keeps the listen queue full
    udp::socket datagrams;
    std::array<char, 65536> datagram{};
    udp::endpoint datagram_sender;
    std::map<udp::endpoint, std::shared_ptr<udp::socket>> upstream_datagrams;  // per client
    std::list<std::shared_ptr<Pipe>> pipes;
    std::atomic<std::uint64_t>* connections;
    std::atomic<std::uint64_t>* datagrams_seen;

    State(asio::io_context& io, tcp::endpoint listen_on, tcp::endpoint to, bool udp_too, Mode start_mode,
          std::atomic<std::uint64_t>* accepted, std::atomic<std::uint64_t>* received)
        : context(io),
          listen(listen_on),
          target(to),
          use_udp(udp_too),
          mode(start_mode),
          acceptor(io),
          queue_filler(io),
          datagrams(io),
          connections(accepted),
          datagrams_seen(received) {}

    void open(Mode next) {
        acceptor.open(listen.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(listen);
        if (next == Mode::drop) {
            // A listen queue of one, filled and never accepted: Linux drops every further SYN.
            acceptor.listen(0);
            listen = acceptor.local_endpoint();
            queue_filler.connect(listen);
        } else {
            acceptor.listen();
            listen = acceptor.local_endpoint();
            accept();
        }
        if (!use_udp) return;
        datagrams.open(udp::v4());
        datagrams.bind(udp::endpoint(listen.address(), listen.port()));
        receive_datagram();
    }

    void close_all() {
        error_code ignored;
        acceptor.close(ignored);
        queue_filler.close(ignored);
        datagrams.close(ignored);
        for (auto& pipe : pipes) {
            pipe->device.close(ignored);
            pipe->server.close(ignored);
        }
        pipes.clear();
        for (auto& [client, socket] : upstream_datagrams) socket->close(ignored);
        upstream_datagrams.clear();
    }

    void change(Mode next, std::chrono::milliseconds next_delay) {
        const Mode previous = mode;
        mode = next;
        delay = next_delay;
        // refuse and drop each need their own listening socket (none, or a full one).
        const auto own_socket = [](Mode m) { return m == Mode::refuse || m == Mode::drop; };
        if (previous == next || (!own_socket(previous) && !own_socket(next))) return;
        close_all();
        if (next != Mode::refuse) open(next);
    }

    void accept() {
        acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
            if (ec) return;  // closed: refusing
            self->connections->fetch_add(1);
            auto pipe = std::make_shared<Pipe>(self->context);
            pipe->device = std::move(socket);
            self->pipes.push_back(pipe);
            if (self->mode == Mode::silent) {
                self->swallow(pipe);
            } else {
                self->after_delay([self, pipe] { self->connect(pipe); });
            }
            self->accept();
        });
    }

    void after_delay(std::function<void()> then) {
        if (mode != Mode::slow || delay.count() == 0) return then();
        auto timer = std::make_shared<asio::steady_timer>(context, delay);
        timer->async_wait([timer, then = std::move(then)](const error_code&) { then(); });
    }

    // Reads and drops what the device sends, so its writes never block: it just gets no answer.
    void swallow(const std::shared_ptr<Pipe>& pipe) {
        pipe->device.async_read_some(asio::buffer(pipe->to_server),
                                     [self = shared_from_this(), pipe](const error_code& ec, std::size_t) {
                                         if (!ec) self->swallow(pipe);
                                     });
    }

    void connect(const std::shared_ptr<Pipe>& pipe) {
        pipe->server.async_connect(target, [self = shared_from_this(), pipe](const error_code& ec) {
            if (ec) {
                error_code ignored;
                pipe->device.close(ignored);
                return;
            }
            auto header = std::make_shared<std::string>(self->first_bytes);
            asio::async_write(pipe->server, asio::buffer(*header),
                              [self, pipe, header](const error_code& written, std::size_t) {
                                  if (written) return;
                                  self->relay(pipe, pipe->device, pipe->server, pipe->to_server);
                                  self->relay(pipe, pipe->server, pipe->device, pipe->to_device);
                              });
        });
    }

    // One direction of a relayed connection; silent mode drops what passes from then on.
    void relay(const std::shared_ptr<Pipe>& pipe, tcp::socket& from, tcp::socket& to,
               std::array<char, 16384>& buf) {
        from.async_read_some(asio::buffer(buf), [self = shared_from_this(), pipe, &from, &to, &buf](
                                                    const error_code& ec, std::size_t n) {
            if (ec) {
                error_code ignored;
                to.shutdown(tcp::socket::shutdown_send, ignored);
                return;
            }
            if (self->mode != Mode::forward && self->mode != Mode::slow)
                return self->relay(pipe, from, to, buf);
            self->after_delay([self, pipe, &from, &to, &buf, n] {
                asio::async_write(to, asio::buffer(buf.data(), n),
                                  [self, pipe, &from, &to, &buf](const error_code& write_ec, std::size_t) {
                                      if (!write_ec) self->relay(pipe, from, to, buf);
                                  });
            });
        });
    }

    void receive_datagram() {
        datagrams.async_receive_from(
            asio::buffer(datagram), datagram_sender,
            [self = shared_from_this()](const error_code& ec, std::size_t n) {
                if (ec) return;
                self->datagrams_seen->fetch_add(1);
                if (self->mode == Mode::forward || self->mode == Mode::slow) {
                    auto payload = std::make_shared<std::string>(self->datagram.data(), n);
                    const auto client = self->datagram_sender;
                    self->after_delay([self, payload, client] { self->forward_datagram(client, payload); });
                }
                self->receive_datagram();
            });
    }

    void forward_datagram(const udp::endpoint& client, const std::shared_ptr<std::string>& payload) {
        auto& upstream = upstream_datagrams[client];
        if (!upstream) {
            upstream = std::make_shared<udp::socket>(context, udp::endpoint(udp::v4(), 0));
            answer_datagrams(client, upstream);
        }
        upstream->async_send_to(asio::buffer(*payload), udp::endpoint(target.address(), target.port()),
                                [payload](const error_code&, std::size_t) {});
    }

    void answer_datagrams(const udp::endpoint& client, const std::shared_ptr<udp::socket>& upstream) {
        auto reply = std::make_shared<std::array<char, 65536>>();
        upstream->async_receive(asio::buffer(*reply), [self = shared_from_this(), client, upstream, reply](
                                                          const error_code& ec, std::size_t n) {
            if (ec) return;
            if ((self->mode == Mode::forward || self->mode == Mode::slow) && self->datagrams.is_open()) {
                error_code ignored;
                self->datagrams.send_to(asio::buffer(reply->data(), n), client, 0, ignored);
            }
            self->answer_datagrams(client, upstream);
        });
    }
};

FaultRelay::FaultRelay(const std::string& listen_address, std::uint16_t port,
                       const std::string& target_address, std::uint16_t target_port, Mode mode, bool udp) {
    state_ = std::make_shared<State>(context_, tcp::endpoint(asio::ip::make_address(listen_address), port),
                                     tcp::endpoint(asio::ip::make_address(target_address), target_port), udp,
                                     Mode::forward, &connections_, &datagrams_);
    state_->open(Mode::forward);
    port_ = state_->listen.port();
    state_->change(mode, std::chrono::milliseconds(0));
    thread_ = std::thread([this] {
        auto guard = asio::make_work_guard(context_);
        context_.run();
    });
}

FaultRelay::~FaultRelay() {
    context_.stop();
    thread_.join();
    state_->close_all();  // the thread is gone: safe from here
}

void FaultRelay::send_first(std::string header) {
    std::promise<void> done;
    asio::post(context_, [state = state_, &header, &done] {
        state->first_bytes = std::move(header);
        done.set_value();
    });
    done.get_future().wait();
}

void FaultRelay::set_mode(Mode mode, std::chrono::milliseconds delay) {
    std::promise<void> done;
    asio::post(context_, [state = state_, mode, delay, &done] {
        state->change(mode, delay);
        done.set_value();
    });
    done.get_future().wait();
}

}  // namespace easgate::testing

#pragma once

// easgate-loadgen's command line: what to load, how hard, and where to write the results.

#include <cstddef>
#include <cstdint>
#include <string>

namespace easgate::bench {

struct Options {
    std::string scenario = "sync";  // sync | handshake | ping-hold | sendmail | cold-start
    std::string host = "127.0.0.1";
    std::uint16_t port = 8443;
    std::string sni;             // TLS server name; none when empty
    std::string server_ca;       // verify the server's certificate against this bundle; unverified when empty
    std::string client_ca_cert;  // the issuing CA the devices' certificates are minted from (PEM)
    std::string client_ca_key;
    std::string upn_pattern = "bench{n}@lab.example";  // {n}: the device's number
    unsigned first_device = 1;                         // the number of the first device
    unsigned devices = 0;       // ping-hold and cold-start: devices; 0: as many as --concurrency
    unsigned concurrency = 50;  // devices looping at once (sync, handshake, sendmail; cold-start: warm ones)
    unsigned threads = 1;       // sync, handshake, sendmail: the devices spread over this many threads
    double duration = 10;       // seconds of load
    double rate = 0;            // requests per second in all (0: as fast as answers come)
    bool resume = false;        // handshake: resume each device's previous TLS session
    std::size_t body_size = 0;  // request body; 0: 1 KiB (sync), 1 MiB (sendmail)
    double hold = 3600;         // ping-hold: seconds to keep the Pings held (or until SIGUSR1)
    double settle = 1;          // ping-hold: seconds after the last Ping is written before "held"
    unsigned sync_concurrency = 0;    // ping-hold: devices syncing while the Pings are held (SIGUSR2)
    unsigned connect_parallel = 256;  // connections being opened at once
    double timeout = 10;              // seconds for connect, handshake and each request
    std::string json_file;            // results as JSON here; "-" or empty: stdout
    std::string label;                // names the target in the results (easgate, nginx, direct)
};

}  // namespace easgate::bench

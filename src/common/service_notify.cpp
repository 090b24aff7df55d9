#include "easgate/common/service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>

namespace easgate::common {

void notify_ready() { sd_notify(0, "READY=1\nSTATUS=accepting device connections"); }

void notify_reloading() {
    // systemd ≥ 253 wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload); 252 ignores it.
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ull +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ull;
    sd_notify(0, ("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec)).c_str());
}

void notify_stopping() { sd_notify(0, "STOPPING=1"); }

}  // namespace easgate::common

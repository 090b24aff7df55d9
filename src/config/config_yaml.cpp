#include "config_fields.hpp"

namespace easgate::config {
namespace {

using fields::Presence;

// Visits the field lists (config_fields.hpp) to print a configuration as YAML.
class Writer {
public:
    explicit Writer(YAML::Emitter& out) : out_(out) {}

    template <class T, class Codec, class... Check>
    void field(const char* key, const T& value, const Codec& codec, Presence presence = Presence::optional,
               Check...) {
        if constexpr (requires { value.empty(); }) {
            if (presence == Presence::shown_when_set && value.empty()) return;
        }
        out_ << YAML::Key << key << YAML::Value;
        codec.write(out_, value);
    }

    template <class Section, class Fields>
    void section(const char* key, const Section& section, const Fields& fields,
                 Presence = Presence::optional) {
        out_ << YAML::Key << key << YAML::Value;
        write(section, fields);
    }

    template <class Section, class Fields>
    void optional_section(const char* key, const std::optional<Section>& section, const Fields& fields) {
        if (section) this->section(key, *section, fields);
    }

    template <class Section, class Fields>
    void list(const char* key, const std::vector<Section>& sections, const Fields& fields, const char*) {
        out_ << YAML::Key << key << YAML::Value << YAML::BeginSeq;
        for (const auto& section : sections) write(section, fields);
        out_ << YAML::EndSeq;
    }

    template <class Section, class Fields>
    void write(const Section& section, const Fields& fields) {
        out_ << YAML::BeginMap;
        fields(*this, section);
        out_ << YAML::EndMap;
    }

private:
    YAML::Emitter& out_;
};

}  // namespace

std::string to_yaml(const Config& config) {
    // Each listener names its upstream, also when it was left to the first one.
    Config effective = config;
    for (auto& listener : effective.listeners) listener.upstream = config.upstream_for(listener).name;
    YAML::Emitter out;
    Writer(out).write(effective, fields::config);
    return std::string(out.c_str()) + "\n";
}

}  // namespace easgate::config

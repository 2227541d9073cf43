// hubctl: the hub's admin command line.
//
//   hubctl token --config hub.xml --sub 2023010001 [--ttl 3600] [--on-behalf-of ID] [--roles a,b]
//   hubctl --help | --version
//       Prints a bearer token signed with the hub's configured key (HS256 secret or
//       RS256 private key), for operators, the demo and integration tests.
#include "hub/auth/TokenIssuer.h"
#include "hub/common/Version.h"

#include <Poco/Crypto/Crypto.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/Application.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IntValidator.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

namespace {

class Hubctl : public Poco::Util::Application {
protected:
    void defineOptions(Poco::Util::OptionSet& options) override {
        Application::defineOptions(options);
        auto add = [&](const char* name, const char* shortName, const char* help, const char* arg) {
            Poco::Util::Option o(name, shortName, help);
            o.required(false).repeatable(false);
            if (arg) o.argument(arg);
            o.callback(Poco::Util::OptionCallback<Hubctl>(this, &Hubctl::set));
            options.addOption(o);
        };
        add("config", "c", "the hub's configuration file (for the signing key)", "FILE");
        add("sub", "s", "token subject: the user id, or a service account", "ID");
        add("ttl", "t", "lifetime in seconds (default 3600)", "SECONDS");
        add("on-behalf-of", "o", "for a service account token: the user it acts for", "ID");
        add("roles", "r", "roles claim, comma separated (used only if the hub allows token roles)", "LIST");
        add("help", "h", "show this help and exit", nullptr);
        add("version", "V", "show the version and exit", nullptr);
    }

    void set(const std::string& name, const std::string& value) {
        if (name == "help") {
            help_ = true;
            stopOptionsProcessing();
        } else if (name == "version") {
            version_ = true;
            stopOptionsProcessing();
        } else if (name == "config") {
            loadConfiguration(value);
        } else {
            values_[name] = value;
        }
    }

    int main(const std::vector<std::string>& args) override {
        if (version_) {
            std::cout << "hubctl (CampusHub) " << hub::projectVersion << "\n";
            return EXIT_OK;
        }
        if (help_ || args.empty() || args[0] != "token") {
            // Asked for: on stdout, exit 0. A usage mistake: on stderr, exit 64.
            Poco::Util::HelpFormatter help(options());
            help.setCommand(commandName());
            help.setUsage("token --config FILE --sub ID [options]");
            help.setHeader("CampusHub admin command line.");
            help.format(help_ ? std::cout : std::cerr);
            return help_ ? EXIT_OK : EXIT_USAGE;
        }
        if (!values_.count("sub")) {
            std::cerr << "hubctl: --sub is required\n";
            return EXIT_USAGE;
        }
        try {
            Poco::Crypto::initializeCrypto();
            auto issuer = hub::auth::TokenIssuer::fromConfig(config(), "auth");
            hub::auth::TokenClaims claims;
            claims.subject = values_["sub"];
            claims.audience = {config().getString("auth.jwt.audience", "campushub")};
            claims.issuer = config().getString("auth.jwt.issuer", "");
            claims.actingFor = values_["on-behalf-of"];
            claims.lifetime = Poco::Timespan(std::stoi(values_.count("ttl") ? values_["ttl"] : "3600"), 0);
            if (values_.count("roles")) {
                Poco::StringTokenizer t(values_["roles"], ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY |
                                                                    Poco::StringTokenizer::TOK_TRIM);
                claims.roles.assign(t.begin(), t.end());
            }
            std::cout << issuer.issue(claims) << "\n";
            return EXIT_OK;
        } catch (const Poco::Exception& e) {
            std::cerr << "hubctl: " << e.displayText() << "\n";
            return EXIT_CONFIG;
        } catch (const std::exception& e) {
            std::cerr << "hubctl: " << e.what() << "\n";
            return EXIT_CONFIG;
        }
    }

private:
    bool help_ = false;
    bool version_ = false;
    std::map<std::string, std::string> values_;
};

}  // namespace

POCO_APP_MAIN(Hubctl)

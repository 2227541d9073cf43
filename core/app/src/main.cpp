#include "HubApplication.h"

#include <Poco/Exception.h>

#include <iostream>

// POCO_SERVER_MAIN, with the signal set-up before anything else runs.
int main(int argc, char** argv) {
    hub::app::HubApplication::prepareSignals();
    try {
        hub::app::HubApplication app;
        return app.run(argc, argv);
    } catch (const Poco::Exception& e) {
        std::cerr << e.displayText() << std::endl;
        return Poco::Util::Application::EXIT_SOFTWARE;
    }
}

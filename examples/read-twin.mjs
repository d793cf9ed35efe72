// Read the device's twin on its hub, from the service side.
import iothub from 'azure-iothub';

const { Registry } = iothub;

const registry = Registry.fromConnectionString(process.env.IOTHUB_CONNECTION_STRING);
const { responseBody: twin } = await registry.getTwin('sensor-001');
console.log('desired telemetryInterval:', twin.properties.desired.telemetryInterval);   // 30, from the enrollment
console.log('reported firmware:', twin.properties.reported.firmware);                  // once connect-device.mjs ran

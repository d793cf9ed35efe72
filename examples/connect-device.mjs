// A device's start: register, connect to the assigned hub over MQTT, read the twin, report properties, send telemetry,
// and take desired-property updates, direct methods and cloud-to-device messages for a while (default 30 s).
import provisioningDevice from 'azure-iot-provisioning-device';
import provisioningHttp from 'azure-iot-provisioning-device-http';
import symmetricKey from 'azure-iot-security-symmetric-key';
import deviceSdk from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';

const { ProvisioningDeviceClient } = provisioningDevice;
const { Http } = provisioningHttp;
const { SymmetricKeySecurityClient } = symmetricKey;
const { Client, Message } = deviceSdk;
const { Mqtt } = deviceMqtt;                                  // or MqttWs (port 443)

const { PROVISIONING_HOST, PROVISIONING_IDSCOPE, DEVICE_KEY } = process.env;
const seconds = Number(process.argv[2] ?? 30);
const security = new SymmetricKeySecurityClient('sensor-001', DEVICE_KEY);
const result = await ProvisioningDeviceClient.create(PROVISIONING_HOST, PROVISIONING_IDSCOPE, new Http(), security).register();

const device = Client.fromConnectionString(
  `HostName=${result.assignedHub};DeviceId=${result.deviceId};SharedAccessKey=${DEVICE_KEY}`, Mqtt);
await device.open();
const twin = await device.getTwin();
console.log('telemetryInterval', twin.properties.desired.telemetryInterval);   // 30, from the enrollment's initial twin
twin.properties.reported.update({ firmware: '1.2.3' }, (err) => console.log(err ? `report failed: ${err}` : 'reported firmware 1.2.3'));
twin.on('properties.desired', (patch) => console.log('desired', JSON.stringify(patch)));
device.onDeviceMethod('reboot', (req, res) => {
  console.log('method', req.methodName, JSON.stringify(req.payload));
  res.send(200, { ok: true }, () => {});
});
device.on('message', (msg) => console.log('c2d', msg.data.toString()));
await device.sendEvent(new Message(JSON.stringify({ temperature: 21.5 })));
console.log(`sent telemetry; listening for ${seconds} s`);

await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
await device.close();

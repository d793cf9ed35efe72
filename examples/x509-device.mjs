// An X.509 device: enroll a group by its signing certificate, register dev-01 with its certificate chain, then
// connect to the assigned hub with the same certificate and send telemetry. Reads the files `opendps cert` wrote
// (fleet-int.pem, dev-01.chain.pem, dev-01.key.pem) from CERT_DIR (default: the current folder).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import provisioningService from 'azure-iot-provisioning-service';
import provisioningDevice from 'azure-iot-provisioning-device';
import provisioningHttp from 'azure-iot-provisioning-device-http';
import x509 from 'azure-iot-security-x509';
import deviceSdk from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';

const { ProvisioningServiceClient } = provisioningService;
const { ProvisioningDeviceClient } = provisioningDevice;
const { Http } = provisioningHttp;
const { X509Security } = x509;
const { Client, Message } = deviceSdk;
const { Mqtt } = deviceMqtt;

const { DPS_CONNECTION_STRING, PROVISIONING_HOST, PROVISIONING_IDSCOPE, CERT_DIR = '.' } = process.env;
const read = (file) => readFileSync(join(CERT_DIR, file), 'utf8');

const service = ProvisioningServiceClient.fromConnectionString(DPS_CONNECTION_STRING);
await service.createOrUpdateEnrollmentGroup({
  enrollmentGroupId: 'fleet',
  attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: read('fleet-int.pem') } } } },
});

const credentials = { cert: read('dev-01.chain.pem'), key: read('dev-01.key.pem') };   // device + intermediate, and its key
const security = new X509Security('dev-01', credentials);
const result = await ProvisioningDeviceClient.create(PROVISIONING_HOST, PROVISIONING_IDSCOPE, new Http(), security).register();
console.log(result.status, result.assignedHub, result.deviceId);

const device = Client.fromConnectionString(`HostName=${result.assignedHub};DeviceId=${result.deviceId};x509=true`, Mqtt);
device.setOptions(credentials);
await device.open();
await device.sendEvent(new Message(JSON.stringify({ temperature: 19 })));
console.log('connected with the certificate and sent telemetry');
await device.close();

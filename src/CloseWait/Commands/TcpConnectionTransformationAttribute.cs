using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;

namespace CloseWait.Commands
{
    /// <summary>
    /// Lets a TcpConnection parameter take connections that crossed remoting or a CSV file
    /// (Deserialized.CloseWait.TcpConnection): they are rebuilt from their public properties.
    /// Anything else is left to the binder, which refuses it.
    /// </summary>
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class TcpConnectionTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            object? value = inputData is PSObject pso && !(pso.BaseObject is PSCustomObject) ? pso.BaseObject : inputData;
            if (value is IList list && !(value is string))
            {
                var items = new List<object?>(list.Count);
                foreach (object? item in list)
                {
                    object? one = TransformOne(item);
                    if (one is object[] sockets)
                    {
                        // A diagnosis stands for its sockets.
                        items.AddRange(sockets);
                    }
                    else
                    {
                        items.Add(one);
                    }
                }

                return items.ToArray();
            }

            return TransformOne(inputData);
        }

        private static object? TransformOne(object? item)
        {
            var pso = item as PSObject;
            object? raw = pso != null ? pso.BaseObject : item;
            if (raw is TcpConnection live)
            {
                return live;
            }

            // Test-TcpCloseWait | Close-TcpConnection: a diagnosis stands for its sockets.
            if (raw is TcpCloseWaitDiagnosis diagnosis)
            {
                return diagnosis.Connections.Cast<object>().ToArray();
            }

            if (pso != null && IsDiagnosisRecord(pso))
            {
                object? connections = pso.Properties["Connections"]?.Value;
                object? inner = connections is PSObject c ? c.BaseObject : connections;
                if (inner is IEnumerable many && !(inner is string))
                {
                    return many.Cast<object?>().Select(TransformOne).ToArray();
                }

                throw new ArgumentTransformationMetadataException(
                    "This diagnosis lost its sockets on the way (Export-Csv writes Connections as a type name): pipe (Test-TcpCloseWait).Connections, export those, or run Test-TcpCloseWait again and pipe it.");
            }

            // A typed record (remoting, PSSerializer, Export-Csv with type information), or a row
            // that has a connection's columns: pwsh's Export-Csv writes no type name.
            if (pso != null && (TcpConnectionInput.IsConnectionRecord(pso) || (raw is PSCustomObject && HasConnectionShape(pso))))
            {
                return Rebuild(pso, pso.TypeNames[0]);
            }

            if (raw is IDictionary dictionary)
            {
                var row = new PSObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    row.Properties.Add(new PSNoteProperty(entry.Key?.ToString() ?? string.Empty, entry.Value));
                }

                if (HasConnectionShape(row))
                {
                    return Rebuild(row, "hashtable");
                }
            }

            if (raw == null || raw is PSCustomObject)
            {
                // $null is refused by the binder; another object may still bind by property name (-ProcessId).
                return item;
            }

            if (raw is string || raw is IDictionary || raw.GetType().IsPrimitive || raw is decimal)
            {
                throw new ArgumentTransformationMetadataException(string.Format(CultureInfo.InvariantCulture,
                    "{0} is not a TCP connection: pipe objects from Get-TcpConnection or Get-TcpCloseWait, or rows of their Export-Csv (AddressFamily, LocalAddress, LocalPort, RemoteAddress, RemotePort, State, and Cookie or Inode).",
                    raw is IDictionary ? "A hashtable without a connection's keys" : $"'{raw}' (a {raw.GetType().Name})"));
            }

            return item;
        }

        private static bool IsDiagnosisRecord(PSObject pso)
        {
            foreach (string name in pso.TypeNames)
            {
                if (name.EndsWith("CloseWait.TcpCloseWaitDiagnosis", StringComparison.Ordinal))
                {
                    return true;
                }
            }

            // Export-Csv without #TYPE: a diagnosis's columns.
            return pso.BaseObject is PSCustomObject && pso.Properties["Finding"] != null && pso.Properties["Cause"] != null && pso.Properties["Connections"] != null;
        }

        private static readonly string[] ConnectionColumns = { "AddressFamily", "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "State" };

        /// <summary>
        /// Two or more of a connection's own columns: a row that lost one (State, say) is still a
        /// connection to refuse by name, never an object that binds -ProcessId by its Id and so
        /// selects every socket of that process.
        /// </summary>
        private static bool HasConnectionShape(PSObject row)
        {
            int found = 0;
            foreach (string name in ConnectionColumns)
            {
                if (row.Properties[name] != null)
                {
                    found++;
                }
            }

            return found >= 2;
        }

        private static TcpConnection Rebuild(PSObject record, string what)
        {
            try
            {
                return TcpConnectionInput.FromRecord(record);
            }
            catch (FormatException e)
            {
                throw new ArgumentTransformationMetadataException(
                    $"This {what} cannot be used as a connection: {e.Message} Pipe objects from Get-TcpConnection or Get-TcpCloseWait.", e);
            }
        }
    }
}

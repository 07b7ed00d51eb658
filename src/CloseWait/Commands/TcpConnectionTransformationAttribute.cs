using System;
using System.Collections;
using System.Collections.Generic;
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
                    items.Add(TransformOne(item));
                }

                return items.ToArray();
            }

            return TransformOne(inputData);
        }

        private static object? TransformOne(object? item)
        {
            if (item is PSObject pso)
            {
                if (pso.BaseObject is TcpConnection live)
                {
                    return live;
                }

                // A typed record, or a bare one: Import-Csv of PowerShell 7's Export-Csv (no #TYPE
                // line) and ConvertFrom-Json give PSCustomObjects, refused below by the column they lack.
                if (TcpConnectionInput.IsConnectionRecord(pso) || IsBareConnectionRecord(pso))
                {
                    try
                    {
                        return TcpConnectionInput.FromRecord(pso);
                    }
                    catch (FormatException e)
                    {
                        throw new ArgumentTransformationMetadataException(
                            $"This {pso.TypeNames[0]} cannot be used as a connection: {e.Message} Pipe objects from Get-TcpConnection or Get-TcpCloseWait.", e);
                    }
                }
            }

            return item;
        }

        /// <summary>
        /// A bare object with a column only connections have. One with none of them, such as a
        /// process-like @{ Id = 42 }, is left to the binder (-ProcessId by property name).
        /// </summary>
        private static bool IsBareConnectionRecord(PSObject pso)
        {
            if (!(pso.BaseObject is PSCustomObject))
            {
                return false;
            }

            foreach (string column in ConnectionColumns)
            {
                if (pso.Properties[column] != null)
                {
                    return true;
                }
            }

            return false;
        }

        private static readonly string[] ConnectionColumns = { "LocalAddress", "LocalPort", "RemoteAddress", "RemotePort", "Cookie", "Inode" };
    }
}
